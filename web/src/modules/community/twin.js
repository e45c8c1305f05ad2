// Pure helpers of the community cockpit: which community to open, facility and device looks, the
// pseudo-3D building extrusion, road label angles, and whether a live event is in the community.
import { api } from '../../core/api.js'

// The demo community (数字社区驾驶舱): 民主村社区 of 谢家湾街道, 九龙坡区 (sim/geography.py).
export const DEMO = { street: '500107003', name: '民主村社区' }

function covers(scope, code) {
  return !scope || code.startsWith(scope)
}

async function children(level, parent) {
  const fc = await api.get('jurisdictions', { level, parent, simplify: 100 })
  return fc.features.map((f) => f.properties).sort((a, b) => a.code.localeCompare(b.code))
}

// The community a desk user lands on: their own if their scope is one, 民主村 if they cover it,
// else the first community under their scope.
export async function defaultCommunity(scope) {
  if (scope && scope.length >= 12) return scope.slice(0, 12)
  if (covers(scope, DEMO.street)) {
    const demo = (await children('community', DEMO.street)).find((c) => c.name === DEMO.name)
    if (demo) return demo.code
  }
  let code = scope || DEMO.street.slice(0, 6)
  if (code.length === 6) code = (await children('street', code))[0]?.code
  if (!code) return null
  return (await children('community', code))[0]?.code || null
}

// The other communities of the same street, for the picker.
export function siblings(streetCode) {
  return streetCode ? children('community', streetCode) : Promise.resolve([])
}

// Facility kinds as the API names them (Chinese), with the map glyph and colour.
export const FACILITIES = {
  社区服务中心: { key: 'service_centre', glyph: '服', color: '#35c3ff' },
  卫生服务站: { key: 'health_station', glyph: '医', color: '#ff6b81' },
  养老服务站: { key: 'elderly_station', glyph: '老', color: '#ffb547' },
  幼儿园: { key: 'kindergarten', glyph: '幼', color: '#f78fb3' },
  菜市场: { key: 'market', glyph: '市', color: '#7bed9f' },
  公厕: { key: 'toilet', glyph: '厕', color: '#a4b0be' },
  垃圾分类点: { key: 'waste_point', glyph: '分', color: '#2ed573' },
  停车场: { key: 'parking', glyph: 'P', color: '#5352ed' },
  健身广场: { key: 'fitness', glyph: '健', color: '#eccc68' },
}
export const FACILITY_ORDER = Object.keys(FACILITIES)

export const BUILDING_KINDS = { 住宅: 'residential', 商业: 'commercial', 公共: 'public' }

// Roof colour by open issues: none, one, two or more.
export const ISSUE_COLORS = ['#2b7bd6', '#f0a030', '#ff4d4f']
export function issueColor(n) {
  return ISSUE_COLORS[Math.min(2, n || 0)]
}

export const DEVICE_COLORS = { ok: '#3ad29f', stale: '#ffb547', silent: '#6b7d93' }

// A device reports if its newest reading is at most an hour old; stale if older; silent if none.
export function deviceState(props, now = Date.now()) {
  const times = (props.datastreams || [])
    .map((s) => (s.phenomenon_time ? Date.parse(s.phenomenon_time) : NaN))
    .filter((t) => !Number.isNaN(t))
  if (!times.length) return 'silent'
  return now - Math.max(...times) <= 3600 * 1000 ? 'ok' : 'stale'
}

// ---- geometry -------------------------------------------------------------------------------

const M_PER_DEG_LAT = 110946

// Outer ring of a GeoJSON Polygon as [lat, lng] pairs (closing point dropped).
export function ring(geometry) {
  const coords = geometry.type === 'MultiPolygon' ? geometry.coordinates[0][0] : geometry.coordinates[0]
  const pts = coords.map(([lng, lat]) => [lat, lng])
  const [a, b] = [pts[0], pts[pts.length - 1]]
  if (pts.length > 1 && a[0] === b[0] && a[1] === b[1]) pts.pop()
  return pts
}

// A building as a roof lifted north by its height and the walls joining roof and ground (the
// look of an oblique view). Height ≈ 3 m a floor, shown at a third of the scale so towers stay
// legible. Walls are drawn first and the roof over them, so only the south faces show; each wall
// gets a light factor from where it faces (east lighter, west darker).
export function extrude(points, floors) {
  const dLat = (Math.max(1, floors) * 3 * 0.33) / M_PER_DEG_LAT
  const roof = points.map(([lat, lng]) => [lat + dLat, lng])
  let area = 0
  for (let i = 0; i < points.length; i++) {
    const j = (i + 1) % points.length
    area += points[i][1] * points[j][0] - points[j][1] * points[i][0]
  }
  const turn = area > 0 ? 1 : -1 // counter-clockwise rings have their outside on the right
  const walls = []
  for (let i = 0; i < points.length; i++) {
    const j = (i + 1) % points.length
    const dx = points[j][1] - points[i][1]
    const dy = points[j][0] - points[i][0]
    const east = (turn * dy) / (Math.hypot(dx, dy) || 1) // x of the outward normal
    walls.push({ ring: [points[i], points[j], roof[j], roof[i]], light: 0.55 + 0.2 * east })
  }
  return { roof, walls, lift: dLat }
}

// Painter's order: northern buildings first, so nearer (southern) ones are drawn over them.
export function northFirst(features) {
  const lat = (f) => Math.max(...ring(f.geometry).map((p) => p[0]))
  return [...features].sort((a, b) => lat(b) - lat(a))
}

// Shade a #rrggbb colour: factor < 1 darkens, > 1 lightens.
export function shade(hex, factor) {
  const n = parseInt(hex.slice(1), 16)
  const c = [n >> 16, (n >> 8) & 255, n & 255].map((v) => Math.max(0, Math.min(255, Math.round(v * factor))))
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`
}

// The longest part of each road name and where/how to write the name along it.
export function roadLabels(features, project) {
  const best = new Map()
  for (const f of features) {
    const line = f.geometry.type === 'MultiLineString' ? f.geometry.coordinates.flat() : f.geometry.coordinates
    const a = line[0]
    const b = line[line.length - 1]
    const length = Math.hypot(b[0] - a[0], b[1] - a[1])
    const name = f.properties.name
    if (!best.has(name) || best.get(name).length < length) best.set(name, { name, a, b, length })
  }
  return [...best.values()].map(({ name, a, b }) => {
    const pa = project([a[1], a[0]])
    const pb = project([b[1], b[0]])
    let angle = (Math.atan2(pb.y - pa.y, pb.x - pa.x) * 180) / Math.PI
    if (angle > 90) angle -= 180
    if (angle < -90) angle += 180
    return { name, at: [(a[1] + b[1]) / 2, (a[0] + b[0]) / 2], angle }
  })
}

// Ray casting on a GeoJSON (Multi)Polygon: is the point inside?
export function contains(geometry, lat, lng) {
  if (!geometry) return false
  const polys = geometry.type === 'MultiPolygon' ? geometry.coordinates : [geometry.coordinates]
  return polys.some((rings) => {
    let inside = false
    for (const r of rings) {
      for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
        const [xi, yi] = r[i]
        const [xj, yj] = r[j]
        if (yi > lat !== yj > lat && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside
      }
    }
    return inside
  })
}

// Whether a live case event belongs to this community: by its community code when the event
// carries one, else by street and the point inside the community's boundary.
export function inCommunity(data, community, boundary) {
  if (data.community_code) return data.community_code === community.code
  if (community.street_code && data.street_code && data.street_code !== community.street_code) return false
  return typeof data.lat === 'number' && contains(boundary, data.lat, data.lng)
}
