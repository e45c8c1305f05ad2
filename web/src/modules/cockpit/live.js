// What the cockpit does with live events, as small functions: is an event inside the scope,
// how it changes the feed, and a throttle so a burst of events costs one summary refetch.
import { CITY_CODE } from './scope.js'

export const FEED_SIZE = 30

export function inScope(scope, streetCode) {
  return !scope || scope === CITY_CODE || String(streetCode || '').startsWith(scope)
}

// One line per case: a new case goes on top, a later step of a listed case updates its line.
export function feedCase(items, action, d) {
  const key = `c${d.case_id}`
  const line = items.find((it) => it.key === key)
  if (line) {
    Object.assign(line, { action, status: d.status, at: d.at, title: d.title || line.title })
    return items
  }
  const fresh = {
    key, kind: 'case', id: d.case_id, action, status: d.status, title: d.title, at: d.at, street: d.street_code, fresh: true,
  }
  return [fresh, ...items].slice(0, FEED_SIZE)
}

export function feedAlarm(items, action, d) {
  const key = `a${d.alarm_id}-${action}`
  const line = { key, kind: 'alarm', id: d.alarm_id, action, status: d.severity, title: d.plan, at: d.at, fresh: true }
  return [line, ...items.filter((it) => it.key !== key)].slice(0, FEED_SIZE)
}

// Cases from the list API (newest first) as feed lines, for the feed's first look.
export function feedFromCases(cases) {
  return cases.map((c) => ({
    key: `c${c.id}`, kind: 'case', id: c.id, action: 'report', status: c.status, title: c.title, at: c.reported_at,
    street: c.street_code, fresh: false,
  }))
}

// Call fn at most once per `ms`: the first call in a quiet period runs at once, later ones
// within the period are folded into one run at its end.
export function throttle(fn, ms) {
  let last = 0
  let timer = null
  const run = () => {
    timer = null
    last = Date.now()
    fn()
  }
  const call = () => {
    if (timer) return
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()))
  }
  call.cancel = () => {
    clearTimeout(timer)
    timer = null
  }
  return call
}
