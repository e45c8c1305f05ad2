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

// Tiles are drawn a few per frame, within a time budget, instead of all in the frame that
// needs them (Leaflet's asynchronous createTile(coords, done) allows it), and straight into
// the tile's pixels: at city zoom one tile may hold 60,000 部件, and 60,000 fillRect calls take
// longer than a frame where writing their pixels takes a millisecond or two.
const FRAME_BUDGET_MS = 6
const jobs = []
let pumping = false
function pump() {
  const end = performance.now() + FRAME_BUDGET_MS
  while (jobs.length && performance.now() < end) jobs.shift()()
  pumping = jobs.length > 0
  if (pumping) requestAnimationFrame(pump)
}

// A CSS colour as the 32-bit pixel a Uint32Array over ImageData holds (little-endian ABGR).
const pixels = new Map()
let probe = null
function pixelOf(css) {
  if (pixels.has(css)) return pixels.get(css)
  probe = probe || document.createElement('canvas').getContext('2d', { willReadFrequently: true })
  probe.clearRect(0, 0, 1, 1)
  probe.fillStyle = css
  probe.fillRect(0, 0, 1, 1)
  const [r, g, b, a] = probe.getImageData(0, 0, 1, 1).data
  const value = a === 0 ? 0 : ((a << 24) | (b << 16) | (g << 8) | r) >>> 0
  pixels.set(css, value)
  return value
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

  createTile(coords, done) {
    const size = this.getTileSize()
    const tile = document.createElement('canvas')
    tile.width = size.x
    tile.height = size.y
    const key = this._tileCoordsToKey(coords)
    jobs.push(() => {
      if (!this._map || this._tiles[key]?.el !== tile) return // pruned while it waited
      this._paint(tile, coords)
      done(null, tile)
    })
    if (!pumping) {
      pumping = true
      requestAnimationFrame(pump)
    }
    return tile
  },

  _paint(tile, coords) {
    const w = tile.width
    const h = tile.height
    const scale = w * 2 ** coords.z
    const side = Math.max(1, Math.round(2 * this.options.radius))
    const reach = side / scale
    const left = coords.x * w
    const top = coords.y * h
    const x0 = left / scale - reach
    const x1 = (left + w) / scale + reach
    const y0 = top / scale - reach
    const y1 = (top + h) / scale + reach
    const { colors, defaultColor } = this.options
    const state = this._data.state || []
    let img = null
    let px = null
    for (let k = this._lowerBound(x0); k < this._order.length && this._sortedX[k] <= x1; k++) {
      const i = this._order[k]
      const y = this._ys[i]
      if (y < y0 || y > y1) continue
      const color = pixelOf(colors[state[i]] || defaultColor)
      if (!color) continue
      if (!img) {
        img = tile.getContext('2d').createImageData(w, h)
        px = new Uint32Array(img.data.buffer)
      }
      const cx = Math.round(this._xs[i] * scale - left - side / 2)
      const cy = Math.round(y * scale - top - side / 2)
      for (let row = Math.max(0, cy); row < Math.min(h, cy + side); row++) {
        for (let col = Math.max(0, cx); col < Math.min(w, cx + side); col++) px[row * w + col] = color
      }
    }
    if (img) tile.getContext('2d').putImageData(img, 0, 0)
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
