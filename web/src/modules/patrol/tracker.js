// The phone's patrol recorder (巡河记录仪). Everything it knows is kept in localStorage under the
// user's name, so a reload, a crash or a dead battery resumes the same patrol: the client_id the
// patrol was started with (POST /river/patrols answers the same patrol again for it), and every
// GPS fix not yet accepted by the server. Fixes go up in batches (every BATCH_FIXES fixes or
// FLUSH_MS, whichever comes first); a batch that fails for want of a network stays queued and is
// sent again, and the server ignores a fix it already holds, so sending twice is harmless.
// Finishing records the moment it was asked for, sends what is queued, then finishes.
//
// The browser's Geolocation API gives WGS84; a mini-program host (WeChat, Alipay) gives GCJ-02,
// and the API converts either: CRS says which one this page sends.
import { reactive } from 'vue'
import { api } from '../../core/api.js'
import { session } from '../../core/auth.js'

export const CRS = 'wgs84'
const BATCH_FIXES = 10 // local default: a batch every 10 fixes …
const FLUSH_MS = 15_000 // … or every 15 s, so the mileage on screen stays fresh
const MAX_BATCH = 500 // well under the API's 5,000 per request
const TRACK_MAX = 5000 // fixes kept for the phone's own map
const PREFIX = 'cityops.patrol.'

const blank = () => ({
  client_id: null, patrol_id: null, section_code: null, section_name: null, river_name: null,
  started_at: null, finishing: null, queue: [], track: [], last: null, sent: 0, rejected: 0,
  mileage_m: 0, duration_s: 0, point_count: 0, flagged_count: 0, issues: [],
})

export const rec = reactive({
  owner: null, // the username the state belongs to
  state: null, // blank() while a patrol is going or finishing; null otherwise
  gps: 'idle', // idle | waiting | ok | denied | unavailable
  gpsMessage: '',
  syncing: false,
  syncError: null, // the last failed request's ApiError
  lastSync: null,
  finished: null, // the PatrolRead of the patrol just finished
  refused: null, // the server would not start the patrol (outside my area, another one going)
})

let watchId = null
let timer = null

const key = () => PREFIX + rec.owner
function save() {
  if (rec.state) localStorage.setItem(key(), JSON.stringify(rec.state))
  else localStorage.removeItem(key())
}

export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

// Load the signed-in user's saved patrol (if any) and carry on with it.
export function attach() {
  const who = session.me?.username || null
  if (rec.owner !== who) {
    stop()
    Object.assign(rec, { owner: who, state: null, finished: null, syncError: null, lastSync: null })
    try {
      rec.state = who ? JSON.parse(localStorage.getItem(key()) || 'null') : null
    } catch {
      rec.state = null
    }
  }
  if (rec.state) run()
}

function run() {
  rec.refused = null
  if (!rec.state.finishing && watchId === null && navigator.geolocation) {
    rec.gps = 'waiting'
    watchId = navigator.geolocation.watchPosition(onFix, onGeoError, { enableHighAccuracy: true, maximumAge: 0, timeout: 60_000 })
  } else if (!navigator.geolocation) {
    rec.gps = 'unavailable'
  }
  if (timer === null) timer = setInterval(tick, FLUSH_MS)
  tick()
}

function stop() {
  if (watchId !== null) navigator.geolocation.clearWatch(watchId)
  watchId = null
  clearInterval(timer)
  timer = null
  rec.gps = 'idle'
}

function onFix(pos) {
  const s = rec.state
  if (!s || s.finishing || session.me?.username !== rec.owner) return
  const { latitude: lat, longitude: lng, accuracy } = pos.coords
  const fix = { t: new Date(pos.timestamp || Date.now()).toISOString(), lat, lng, accuracy_m: Number.isFinite(accuracy) ? accuracy : null }
  rec.gps = 'ok'
  rec.gpsMessage = ''
  s.queue.push(fix)
  s.track.push([lat, lng])
  if (s.track.length > TRACK_MAX) s.track.splice(0, s.track.length - TRACK_MAX)
  s.last = fix
  save()
  if (s.queue.length >= BATCH_FIXES) tick()
}

function onGeoError(err) {
  rec.gps = err.code === 1 ? 'denied' : 'unavailable'
  rec.gpsMessage = err.message || ''
}

// Begin a patrol on a section: the client_id is saved before anything is sent.
export function begin(section) {
  rec.finished = null
  rec.state = { ...blank(), client_id: uuid(), section_code: section.code, section_name: section.name, river_name: section.river_name, started_at: new Date().toISOString() }
  save()
  run() // its first tick starts the patrol on the server
}

// Carry on with a patrol this account left going elsewhere (another phone, a cleared browser).
export function adopt(p) {
  rec.finished = null
  rec.state = { ...blank(), client_id: p.client_id, patrol_id: p.id, section_code: p.section_code, section_name: p.section_name, river_name: p.river_name, started_at: p.started_at, mileage_m: p.mileage_m, duration_s: p.duration_s, point_count: p.point_count }
  save()
  run()
}

// Make sure the server has the patrol; the same client_id again gives the same one.
async function started() {
  const s = rec.state
  if (!s || s.patrol_id) return Boolean(s)
  const body = { client_id: s.client_id, started_at: s.started_at }
  if (s.section_code) body.section_code = s.section_code
  const p = await api.post('river/patrols', body)
  if (rec.state !== s) return false
  s.patrol_id = p.id
  figures(p)
  save()
  return true
}

function figures(answer) {
  for (const k of ['mileage_m', 'duration_s', 'point_count', 'flagged_count']) if (k in answer) rec.state[k] = answer[k]
}

const retryable = (err) => !err.status || err.status === 408 || err.status === 429 || err.status >= 500

// Send what is queued, batch by batch; a batch the server refuses outright is counted as rejected.
async function flush() {
  const s = rec.state
  while (s.queue.length && rec.state === s) {
    const batch = s.queue.slice(0, MAX_BATCH)
    try {
      const r = await api.post(`river/patrols/${s.patrol_id}/points`, { crs: CRS, points: batch })
      figures(r)
    } catch (err) {
      if (retryable(err) || err.code === 'patrol_finished') throw err
      s.rejected += batch.length
      rec.syncError = err
    }
    s.queue.splice(0, batch.length)
    s.sent += batch.length
    save()
  }
}

let again = false
async function tick() {
  if (rec.syncing) {
    again = true // a finish or a full batch while a send is under way: go again right after
    return
  }
  if (!rec.state || session.me?.username !== rec.owner) return
  rec.syncing = true
  const s = rec.state
  try {
    if (await started()) {
      await flush()
      if (s.finishing && rec.state === s) await close(s)
      rec.syncError = null
      rec.lastSync = new Date().toISOString()
    }
  } catch (err) {
    rec.syncError = err
    // Finished elsewhere (another phone): finishing again answers its figures.
    if (err.code === 'patrol_finished' && rec.state === s) await close(s).catch(() => end(null))
    else if (!s.patrol_id && !retryable(err)) {
      rec.refused = err // asking again will not help: the page offers to give it up
      stop()
    }
  } finally {
    rec.syncing = false
    if (again) {
      again = false
      setTimeout(tick, 0)
    }
  }
}

async function close(s) {
  const p = await api.post(`river/patrols/${s.patrol_id}/finish`, { ended_at: s.finishing })
  end(p)
}

function end(result) {
  stop()
  rec.state = null
  rec.finished = result
  save()
}

// Finish: the end time is the moment of the tap, even if the network comes back later.
export async function finish() {
  if (!rec.state) return
  rec.state.finishing = rec.state.finishing || new Date().toISOString()
  save()
  if (watchId !== null) navigator.geolocation.clearWatch(watchId)
  watchId = null
  rec.gps = 'idle'
  if (timer === null) timer = setInterval(tick, FLUSH_MS)
  await tick()
}

// A problem found on the way becomes a case at the last fix (or where the phone is now).
export async function report({ description, photos, category }) {
  const s = rec.state
  if (!s) return null
  if (!s.patrol_id) await started()
  const at = s.last
  if (!at) throw Object.assign(new Error('no position yet'), { code: 'no_fix' })
  const body = { description, photos, lat: at.lat, lng: at.lng, crs: CRS }
  if (category) body.category = category
  const issue = await api.post(`river/patrols/${s.patrol_id}/issues`, body)
  s.issues.push({ id: issue.id, case_id: issue.case_id, case_no: issue.case_no, title: issue.title, status: issue.status, duplicate: issue.duplicate })
  save()
  return issue
}

export const syncNow = tick

// Give up a patrol the server will not take (its start was refused): nothing more is sent.
export function discard() {
  end(null)
}

window.addEventListener('online', () => tick())
