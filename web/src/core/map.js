// The map without a tile server (一张图): jurisdictions, rivers and buildings come as GeoJSON from
// the API, and large point sets (100,000 devices or components) are drawn on canvas tiles from
// columnar arrays, so panning never touches 100,000 DOM nodes or Leaflet layers.
import L from 'leaflet'
import { api } from './api.js'

export const CHONGQING = { center: [29.56, 106.55], zoom: 10 }

export function createMap(el, { center = CHONGQING.center, zoom = CHONGQING.zoom, light = false } = {}) {
  const map = L.map(el, {
    center,
    zoom,
    minZoom: 7,
    maxZoom: 19,
    preferCanvas: true,
    zoomControl: true,
    attributionControl: false,
  })
  el.classList.toggle('light', light)
  return map
}

const LEVEL_STYLE = {
  district: { color: '#35c3ff', weight: 2, fillOpacity: 0.04 },
  street: { color: '#5d8fd6', weight: 1.2, fillOpacity: 0.03 },
  community: { color: '#7aa7e0', weight: 1, fillOpacity: 0.02, dashArray: '4 3' },
  grid: { color: '#3a6aa8', weight: 0.6, fillOpacity: 0.0 },
}

// Jurisdictions of one level (optionally under a parent) as a GeoJSON layer, with the name on hover.
export async function jurisdictionLayer({ level, parent, bbox, simplify, onClick, style } = {}) {
  const fc = await api.get('jurisdictions', { level, parent, bbox, simplify })
  return L.geoJSON(fc, {
    style: () => ({ ...LEVEL_STYLE[level], ...(style || {}), fillColor: '#35c3ff' }),
    onEachFeature: (feature, layer) => {
      layer.bindTooltip(feature.properties.name, { sticky: true })
      if (onClick) layer.on('click', () => onClick(feature))
    },
  })
}

function mercator(lat, lng) {
  const x = (lng + 180) / 360
  const s = Math.sin((lat * Math.PI) / 180)
  const y = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)
  return [x, y]
}

// Points from the API's columnar shape ({id:[], lat:[], lng:[], state:[]}), drawn on canvas tiles.
// colors maps a state to a CSS colour; onClick(index) gets the nearest point within a few pixels.
export const PointLayer = L.GridLayer.extend({
  options: { radius: 3, colors: {}, defaultColor: '#35c3ff', tileSize: 256, updateWhenZooming: false },

  initialize(data, options) {
    L.GridLayer.prototype.initialize.call(this, options)
    this.setData(data)
  },

  setData(data) {
    const n = data.id.length
    const xs = new Float64Array(n)
    const ys = new Float64Array(n)
    for (let i = 0; i < n; i++) [xs[i], ys[i]] = mercator(data.lat[i], data.lng[i])
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => xs[a] - xs[b])
    this._data = data
    this._xs = xs
    this._ys = ys
    this._order = order
    this._sortedX = Float64Array.from(order, (i) => xs[i])
    if (this._map) this.redraw()
  },

  // Change one point's state (a live alarm, a case closed) and repaint.
  setState(id, state) {
    const i = this._data.id.indexOf(id)
    if (i >= 0) {
      this._data.state[i] = state
      this.redraw()
    }
    return i >= 0
  },

  _lowerBound(x) {
    const a = this._sortedX
    let lo = 0
    let hi = a.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (a[mid] < x) lo = mid + 1
      else hi = mid
    }
    return lo
  },

  createTile(coords) {
    const size = this.getTileSize()
    const tile = document.createElement('canvas')
    tile.width = size.x
    tile.height = size.y
    const ctx = tile.getContext('2d')
    const scale = size.x * 2 ** coords.z
    const r = this.options.radius
    const x0 = (coords.x * size.x - r) / scale
    const x1 = ((coords.x + 1) * size.x + r) / scale
    const y0 = (coords.y * size.y - r) / scale
    const y1 = ((coords.y + 1) * size.y + r) / scale
    const { colors, defaultColor } = this.options
    const state = this._data.state || []
    let last = null
    for (let k = this._lowerBound(x0); k < this._order.length && this._sortedX[k] <= x1; k++) {
      const i = this._order[k]
      const y = this._ys[i]
      if (y < y0 || y > y1) continue
      const color = colors[state[i]] || defaultColor
      if (color !== last) {
        ctx.fillStyle = color
        last = color
      }
      ctx.fillRect(this._xs[i] * scale - coords.x * size.x - r, y * scale - coords.y * size.y - r, 2 * r, 2 * r)
    }
    return tile
  },

  // The index of the point nearest to a map click, within the radius plus a few pixels.
  nearest(latlng) {
    if (!this._map) return -1
    const z = this._map.getZoom()
    const scale = this.getTileSize().x * 2 ** z
    const [cx, cy] = mercator(latlng.lat, latlng.lng)
    const reach = (this.options.radius + 4) / scale
    let best = -1
    let bestD = reach * reach
    for (let k = this._lowerBound(cx - reach); k < this._order.length && this._sortedX[k] <= cx + reach; k++) {
      const i = this._order[k]
      const d = (this._xs[i] - cx) ** 2 + (this._ys[i] - cy) ** 2
      if (d <= bestD) {
        bestD = d
        best = i
      }
    }
    return best
  },
})

export function pointLayer(data, options) {
  return new PointLayer(data, options)
}

export { L }
