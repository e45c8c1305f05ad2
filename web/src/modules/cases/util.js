// Pure helpers of the case pages: filters <-> URL query <-> API query, does a case match the
// filters (for live SSE arrivals), photo references, deadline state and city-time dates.

export const STATUSES = [
  'reported', 'accepted', 'filed', 'dispatched', 'in_progress', 'handled',
  'verified', 'closed', 'evaluated', 'returned', 'shelved', 'void',
]
export const CHANNELS = ['inspector', 'resident', 'hotline', 'video', 'sensor', 'patrol', 'leader']
// States in which the handling clock runs (派遣 starts it; 挂账 stops it) — lifecycle.CLOCK_RUNNING.
export const CLOCK_RUNNING = ['dispatched', 'in_progress', 'returned']
// A case is 临期 when this share of its handling window is left (plans warn at 80 % elapsed).
export const NEAR_SHARE = 0.2
export const PAGE_SIZE = 50

const ZONE_OFFSET = '+08:00' // Asia/Shanghai has no daylight saving time

export function emptyFilters() {
  return { status: [], category: '', channel: '', area: '', from: '', to: '', overdue: false, q: '' }
}

// Filters live in the URL so a reload, the back button or a shared link keeps them.
export function filtersFromQuery(query) {
  const f = emptyFilters()
  const one = (v) => (Array.isArray(v) ? v[0] : v) || ''
  f.status = one(query.status).split(',').filter((s) => STATUSES.includes(s))
  f.category = one(query.category)
  f.channel = CHANNELS.includes(one(query.channel)) ? one(query.channel) : ''
  f.area = /^\d{6,20}$/.test(one(query.area)) ? one(query.area) : ''
  f.from = /^\d{4}-\d{2}-\d{2}$/.test(one(query.from)) ? one(query.from) : ''
  f.to = /^\d{4}-\d{2}-\d{2}$/.test(one(query.to)) ? one(query.to) : ''
  f.overdue = one(query.overdue) === '1'
  f.q = one(query.q)
  return f
}

export function filtersToQuery(f) {
  const q = {}
  if (f.status.length) q.status = f.status.join(',')
  for (const k of ['category', 'channel', 'area', 'from', 'to', 'q']) if (f[k]) q[k] = f[k]
  if (f.overdue) q.overdue = '1'
  return q
}

// 'YYYY-MM-DD' (a day in the city) → the next day, same format.
export function nextDay(day) {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10)
}

export function dayStart(day) {
  return `${day}T00:00:00${ZONE_OFFSET}`
}

// What GET /cases is asked (free text is not an API filter: it narrows the loaded rows only).
export function apiQuery(f) {
  return {
    status: f.status,
    category: f.category || undefined,
    channel: f.channel || undefined,
    jurisdiction: f.area || undefined,
    reported_from: f.from ? dayStart(f.from) : undefined,
    reported_to: f.to ? dayStart(nextDay(f.to)) : undefined,
    overdue: f.overdue ? 'true' : undefined,
    q: f.q?.trim() || undefined,
    limit: PAGE_SIZE,
  }
}

// The case's code at the level of a jurisdiction code (district 6, street 9, community 12, grid).
function codeAt(c, area) {
  const byLength = { 6: c.district_code, 9: c.street_code, 12: c.community_code }
  return byLength[area.length] ?? c.grid_code
}

export function isOverdue(c, nowMs) {
  return Boolean(
    c.deadline_at && !c.handled_at && CLOCK_RUNNING.includes(c.status) && Date.parse(c.deadline_at) < nowMs,
  )
}

// The API's search (text_match in cases/queries.py), for a case arriving live on a searched board.
export function matchesText(c, q) {
  const text = (q || '').trim().toLowerCase()
  if (!text) return true
  const id = text.replace(/^#/, '')
  return (
    String(c.id) === id ||
    c.case_no.toLowerCase() === text ||
    [c.title, c.description, c.address].some((s) => (s || '').toLowerCase().includes(text))
  )
}

// Would GET /cases with these filters list this case? (Used for cases arriving live.)
export function matches(c, f, nowMs = Date.now()) {
  if (f.status.length && !f.status.includes(c.status)) return false
  if (f.category && c.category_code !== f.category) return false
  if (f.channel && c.channel !== f.channel) return false
  if (f.area && codeAt(c, f.area) !== f.area) return false
  const at = Date.parse(c.reported_at)
  if (f.from && at < Date.parse(dayStart(f.from))) return false
  if (f.to && at >= Date.parse(dayStart(nextDay(f.to)))) return false
  if (f.overdue && !isOverdue(c, nowMs)) return false
  return matchesText(c, f.q)
}

// Photo references are URLs or content-addressed uploads `photo:<sha>.<ext>` (served without a
// token, so an <img> can show them). Anything else (a simulator's made-up scheme) has no picture.
export function photoUrl(ref) {
  const m = /^photo:([\w-]+\.\w+)$/.exec(ref || '')
  if (m) return `/api/v1/photos/${m[1]}`
  if (/^(https?:\/\/|data:image\/|\/)/.test(ref || '')) return ref
  return null
}

// How the case stands against its deadline now: tone ok/warn/bad, kind and milliseconds.
export function deadlineState(c, nowMs) {
  if (CLOCK_RUNNING.includes(c.status) && c.deadline_at) {
    const end = Date.parse(c.deadline_at)
    const start = Date.parse(c.dispatched_at || c.reported_at)
    const left = end - nowMs
    if (left < 0) return { tone: 'bad', kind: 'overdue', ms: -left }
    const near = left <= Math.max(end - start, 0) * NEAR_SHARE
    return { tone: near ? 'warn' : 'ok', kind: near ? 'near' : 'left', ms: left }
  }
  if (c.status === 'shelved') return { tone: '', kind: 'stopped', ms: 0 }
  if (c.handled_at && c.handled_on_time !== null) {
    return c.handled_on_time ? { tone: 'ok', kind: 'onTime', ms: 0 } : { tone: 'bad', kind: 'late', ms: 0 }
  }
  return { tone: '', kind: 'none', ms: 0 }
}

// A duration as its two largest units: [[n, 'd'], [n, 'h']] … for the i18n of the page.
export function durationParts(ms) {
  const s = Math.floor(ms / 1000)
  const units = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ]
  const first = units.findIndex(([n]) => n > 0)
  if (first < 0) return [[0, 's']]
  return units.slice(first, first + 2).filter(([n], i) => i === 0 || n > 0)
}

// Today in the city ('YYYY-MM-DD'), whatever the browser's zone.
export function cityToday(now = new Date()) {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
  }).format(now)
}

// 'YYYY-MM' shifted by n months.
export function shiftMonth(month, n) {
  const [y, m] = month.split('-').map(Number)
  const total = y * 12 + (m - 1) + n
  return `${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, '0')}`
}
