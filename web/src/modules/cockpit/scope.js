// Jurisdiction codes are hierarchical (市 500000 → 区县 500107 → 镇街 500107001 → 社区 …), so a
// code alone says its level, its ancestors and what lies below it: the page can ask for the
// summary, the outlines and the points of a level at once, without waiting for one another.
import { session } from '../../core/auth.js'

export const CITY_CODE = '500000'
export const LEVELS = ['city', 'district', 'street']
const CHILD = { city: 'district', district: 'street', street: 'community' }

export function levelOf(code) {
  if (!code || code === CITY_CODE || (code.length === 6 && code.endsWith('0000'))) return 'city'
  if (code.length === 6) return 'district'
  if (code.length === 9) return 'street'
  return code.length === 12 ? 'community' : 'grid'
}

export const childLevel = (code) => CHILD[levelOf(code)] || null

// The codes from the city down to this one: 500107001 → [500000, 500107, 500107001].
export function chain(code) {
  const out = [CITY_CODE]
  if (levelOf(code) === 'city') return out
  for (const n of [6, 9]) if (code.length >= n) out.push(code.slice(0, n))
  return out
}

// Where a user starts: their own jurisdiction; city-wide accounts the city.
export function homeScope() {
  return session.me?.scope_code || CITY_CODE
}

// May this user open that code? Scopes are prefixes, a city-wide account sees everything.
export function mayOpen(code) {
  const own = session.me?.scope_code
  return !own || (code || CITY_CODE).startsWith(own)
}

// Polygon tolerance in metres by the level on screen (its outline and its children's are drawn
// at the same zoom): coarse for the whole city, fine inside a street; unit grids from zoom 15.
export const SIMPLIFY = { city: 250, district: 40, street: 8, grid: 2 }

// The last place visited at each level, so the level buttons go back where the user was.
const visited = {}
export function remember(code) {
  for (const c of chain(code)) visited[levelOf(c)] = c
}
// The code a level button opens from `code`: the ancestor, the last visited, or the best-ranked child.
export function targetFor(level, code, ranking) {
  const path = chain(code)
  const own = path.find((c) => levelOf(c) === level)
  if (own) return own
  const last = visited[level]
  if (last && last.startsWith(code === CITY_CODE ? '' : code)) return last
  if (LEVELS.indexOf(level) === LEVELS.indexOf(levelOf(code)) + 1 && ranking?.length) return ranking[0].code
  return null
}
