// The evaluation page's pure parts: the KPI columns, rating colours and the query of a period.
import { cityToday, dayStart, nextDay, shiftMonth } from './util.js'

export const RATING_COLORS = { A: '#3ad29f', B: '#35c3ff', C: '#ffd166', D: '#ffb547', E: '#ff5d5d' }
export const RATINGS = ['A', 'B', 'C', 'D', 'E']
export const GROUPS = ['district', 'street', 'community', 'grid', 'department', 'worker']

// Column key, how to show it ('n' count, 'pct' percent, 'h' hours, 'sat' 1–5), and whether a
// higher value is better (for the colour of a weak value).
export const COLUMNS = [
  { key: 'reported', kind: 'n' },
  { key: 'filed', kind: 'n' },
  { key: 'close_rate', kind: 'pct', good: 'high' },
  { key: 'on_time_close_rate', kind: 'pct', good: 'high' },
  { key: 'on_time_handle_rate', kind: 'pct', good: 'high' },
  { key: 'rework_rate', kind: 'pct', good: 'low' },
  { key: 'overdue', kind: 'n', good: 'low' },
  { key: 'public_report_rate', kind: 'pct' },
  { key: 'avg_handling_hours', kind: 'h' },
  { key: 'satisfaction', kind: 'sat', good: 'high' },
]

export function formatCell(value, kind) {
  if (value === null || value === undefined) return '—'
  if (kind === 'pct') return `${value.toFixed(1)}%` // the API gives rates in percent
  if (kind === 'h') return value.toFixed(1)
  if (kind === 'sat') return value.toFixed(2)
  return String(value)
}

// A value worth a second look: a rate under 60 % where high is good, over 10 % where low is.
export function weak(value, col) {
  if (value === null || value === undefined || !col.good) return false
  if (col.kind === 'pct') return col.good === 'high' ? value < 60 : value > 10
  if (col.kind === 'sat') return value < 3.5
  if (col.key === 'overdue') return value > 0
  return false
}

// The default unit level: one below the person's jurisdiction.
export function defaultGroup(scope) {
  if (!scope) return 'district'
  return scope.length === 6 ? 'street' : 'community'
}

// The period part of GET /kpis: a month (this, last) or custom days [from, to] in city time.
export function periodQuery(period, from, to, today = cityToday()) {
  const month = today.slice(0, 7)
  if (period === 'last') return { month: shiftMonth(month, -1) }
  if (period === 'custom' && from && to) return { start: dayStart(from), end: dayStart(nextDay(to)) }
  return { month }
}

// Summary of the rows: units, mean score, ratings, totals.
export function summary(rows) {
  const scored = rows.filter((r) => r.score !== null)
  const ratings = Object.fromEntries(RATINGS.map((r) => [r, 0]))
  for (const r of scored) ratings[r.rating] += 1
  return {
    units: rows.length,
    mean: scored.length ? scored.reduce((s, r) => s + r.score, 0) / scored.length : null,
    ratings,
    filed: rows.reduce((s, r) => s + r.filed, 0),
    overdue: rows.reduce((s, r) => s + r.overdue, 0),
  }
}
