// The map's four point layers: their colours by state, their draw order, how to fetch them
// (columnar, one request per layer and scope) and what a click on a point shows.
import { reactive } from 'vue'
import { api } from '../../core/api.js'

export const POINT_LAYERS = ['components', 'devices', 'cases', 'alarms'] // bottom to top

// Plan (预案) names by id, for alarms: filled once per page from GET /plans.
export const planNames = reactive({})
export async function loadPlanNames() {
  if (Object.keys(planNames).length) return
  const plans = await api.get('plans').catch(() => null)
  for (const p of plans?.items || []) planNames[p.id] = p.name
}
const HIDDEN = 'rgba(0,0,0,0)'

export const STYLE = {
  components: {
    radius: 1,
    colors: { intact: '#2470c8', damaged: '#ffb547', lost: '#ff5d5d', abandoned: '#5b6f86', removed: HIDDEN },
    legend: ['intact', 'damaged', 'lost', 'abandoned'],
  },
  devices: {
    radius: 1.5,
    colors: { online: '#3ad29f', offline: '#8796ab', no_data: '#4a5f7d', alarm: '#ff3b3b' },
    legend: ['online', 'offline', 'no_data', 'alarm'],
  },
  cases: {
    radius: 2.5,
    colors: {
      reported: '#ffe066', accepted: '#ffe066', filed: '#ffd23f', dispatched: '#ff9a3c', in_progress: '#ff9a3c',
      handled: '#c39bff', verified: '#c39bff', returned: '#ff5d5d', shelved: '#8fb3d9',
      closed: HIDDEN, evaluated: HIDDEN, void: HIDDEN,
    },
    legend: ['filed', 'dispatched', 'handled', 'returned'],
  },
  alarms: {
    radius: 3.5,
    colors: { red: '#ff2d2d', orange: '#ff8c1a', yellow: '#ffd84d', blue: '#3d9bff' },
    legend: ['red', 'orange', 'yellow', 'blue'],
  },
}

// How many points a layer may bring: the whole city's 部件 fit (about 105,000).
const LIMIT = { components: 200000, devices: 200000, cases: 20000, alarms: 5000 }

export async function fetchPoints(layer, scope, signal) {
  return api.get('map/points', { layer, scope, limit: LIMIT[layer] }, { signal })
}

// Components rarely change: keep the last few scopes' answers so switching back is instant.
const kept = new Map()
export async function fetchCached(layer, scope, signal) {
  if (layer !== 'components') return fetchPoints(layer, scope, signal)
  const key = `${layer}:${scope}`
  if (kept.has(key)) return kept.get(key)
  const data = await fetchPoints(layer, scope, signal)
  kept.set(key, data)
  if (kept.size > 4) kept.delete(kept.keys().next().value)
  return data
}

// Append points (a case reported a moment ago) to a columnar set, replacing any with the same id.
export function upsert(data, id, lat, lng, state, kind) {
  const i = data.id.indexOf(id)
  if (i >= 0) {
    data.state[i] = state
    return data
  }
  for (const [k, v] of [['id', id], ['lat', lat], ['lng', lng], ['state', state], ['kind', kind]]) data[k].push(v)
  data.count = data.id.length
  return data
}

// Case states are the case system's own words; the other layers' are the cockpit's.
export const stateLabel = (layer, state, t) =>
  layer === 'cases' ? t(`status.${state}`) : t(`cockpit.state.${layer}.${state}`)

export const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])

// What a popup says at once (from the point's columns), and the detail to ask for after.
export function popupBase(layer, data, i, t) {
  const state = data.state[i]
  const stateText = stateLabel(layer, state, t)
  const head = `<div class="pp-kind">${esc(t(`cockpit.layer.${layer}`))}</div>`
  const row = (k, v) => `<div class="pp-row"><span>${esc(k)}</span><b>${v}</b></div>`
  const color = STYLE[layer].colors[state] || '#8fb3d9'
  const badge = `<i class="pp-dot" style="background:${color}"></i>${esc(stateText)}`
  if (layer === 'cases') {
    return `${head}<div class="pp-title" data-slot="title">#${esc(data.id[i])}</div>${row(t('cockpit.popup.status'), badge)}`
      + `<a class="pp-link" data-route="/cases/${encodeURIComponent(data.id[i])}" href="/cases/${encodeURIComponent(data.id[i])}">${esc(t('cockpit.popup.openCase'))} ›</a>`
  }
  if (layer === 'alarms') {
    const plan = planNames[data.kind[i]] || data.kind[i]
    return `${head}<div class="pp-title">${esc(plan)}</div>${row(t('cockpit.popup.severity'), badge)}${row('ID', esc(data.id[i]))}`
  }
  const kindText = layer === 'devices' ? t(`cockpit.deviceKind.${data.kind[i]}`) : esc(data.kind[i])
  return `${head}<div class="pp-title" data-slot="title">${esc(data.id[i])}</div>`
    + `${row(t('cockpit.popup.state'), badge)}${row(t('cockpit.popup.kind'), esc(kindText))}`
}

// The name behind a point's id, for the popup's title (null: nothing more to show).
export async function popupDetail(layer, id) {
  if (layer === 'components') return (await api.get(`components/${id}`)).name
  if (layer === 'devices') return (await api.get(`things/${id}`)).name
  if (layer === 'cases') {
    const c = await api.get(`cases/${id}`)
    return `${c.case_no} · ${c.title}`
  }
  return null
}
