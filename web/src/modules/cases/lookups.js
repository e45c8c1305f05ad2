// Names behind the codes and ids a case carries (street, worker, department, category), read
// once per page load and shared by the case pages. The API scopes every read; a name it will not
// give (outside the caller's jurisdiction) falls back to the code.
import { reactive } from 'vue'
import { api } from '../../core/api.js'
import { session } from '../../core/auth.js'

export const names = reactive({ area: {}, staff: {}, dept: {}, category: {} })

const MAX_IN_FLIGHT = 4 // leave the browser's other connections to the page and the stream
const queue = []
const asked = new Set()
let inFlight = 0

function pump() {
  while (inFlight < MAX_IN_FLIGHT && queue.length) {
    const job = queue.shift()
    inFlight += 1
    job().finally(() => {
      inFlight -= 1
      pump()
    })
  }
}

function ask(kind, key, path, pick, query) {
  if (key === null || key === undefined || key === '') return
  const id = `${kind}:${key}`
  if (asked.has(id) || names[kind][key]) return
  asked.add(id)
  queue.push(() =>
    api
      .get(path, query)
      .then((body) => {
        names[kind][key] = pick(body)
      })
      .catch(() => {
        names[kind][key] = `#${key}`
      }),
  )
  pump()
}

const COARSE = { simplify: 5000 } // only the name is wanted: a coarse outline is smallest
const areaOf = (feature) => feature.properties.name

export function areaName(code) {
  return names.area[code] || code || ''
}

export function staffName(id) {
  return id === null || id === undefined ? '' : names.staff[id] || `#${id}`
}

export function deptName(id) {
  return id === null || id === undefined ? '' : names.dept[id] || `#${id}`
}

export function ensureStaff(id) {
  if (id !== null && id !== undefined) ask('staff', id, `staff/${id}`, (s) => s.name)
}

export function ensureDept(id) {
  if (id !== null && id !== undefined) ask('dept', id, `departments/${id}`, (d) => d.name)
}

// Ask for the names the given cases need (street, worker, department).
export function ensureNames(cases) {
  for (const c of cases) {
    ask('area', c.street_code, `jurisdictions/${c.street_code}`, areaOf, COARSE)
    ensureStaff(c.worker_id)
    ensureDept(c.department_id)
  }
}

export function ensureAreaName(code) {
  if (code) ask('area', code, `jurisdictions/${code}`, areaOf, COARSE)
}

let catalogue = null
// The category catalogue, grouped by major class (大类) for pickers.
export function loadCategories() {
  if (!catalogue) {
    catalogue = api.get('categories').then((page) => {
      const groups = new Map()
      for (const c of page.items) {
        names.category[c.code] = c.name
        if (!groups.has(c.major_code)) groups.set(c.major_code, { code: c.major_code, name: c.major_name, items: [] })
        groups.get(c.major_code).items.push(c)
      }
      return [...groups.values()]
    })
    catalogue.catch(() => {
      catalogue = null
    })
  }
  return catalogue
}

// The levels a person may narrow to, below their own scope (two at most).
export function pickerLevels(scope = session.me?.scope_code) {
  if (!scope) return [{ level: 'district', length: 6 }, { level: 'street', length: 9 }]
  if (scope.length === 6) return [{ level: 'street', length: 9 }, { level: 'community', length: 12 }]
  if (scope.length === 9) return [{ level: 'community', length: 12 }]
  return []
}

const children = new Map()
// Jurisdictions of a level under a parent as [{code, name}] (names are remembered too).
export function loadAreas(level, parent) {
  const key = `${level}:${parent || ''}`
  if (!children.has(key)) {
    const p = api.get('jurisdictions', { level, parent, simplify: 5000 }).then((fc) =>
      fc.features
        .map((f) => {
          names.area[f.properties.code] = f.properties.name
          return { code: f.properties.code, name: f.properties.name }
        })
        .sort((a, b) => a.code.localeCompare(b.code)),
    )
    p.catch(() => children.delete(key))
    children.set(key, p)
  }
  return children.get(key)
}
