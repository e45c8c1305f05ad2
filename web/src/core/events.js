// Live events over server-sent events. EventSource cannot send headers, so the token rides in
// the query string (the API accepts ?access_token=). One connection per topic, shared by pages.
import { session } from './auth.js'

const CASE_EVENTS = [
  'report', 'link_duplicate', 'accept', 'file', 'void', 'dispatch', 'return', 'start',
  'feedback', 'verify_pass', 'verify_fail', 'close', 'close_special', 'evaluate',
  'request_extension', 'approve_extension', 'reject_extension', 'shelve', 'restore',
  'escalate', 'self_handle', 'warn_near_overdue',
]
const ALARM_EVENTS = ['raised', 'reactivated', 'escalated', 'renotified', 'acknowledged', 'cleared']
const RIVER_EVENTS = ['event_opened', 'patrol.start', 'patrol.issue', 'patrol.finish', 'duty_overdue']

const NAMES = {
  'cases.*': CASE_EVENTS.map((e) => `cases.${e}`),
  'alarms.*': ALARM_EVENTS.map((e) => `alarms.${e}`),
  'river.*': RIVER_EVENTS.map((e) => `river.${e}`),
}

const channels = new Map() // topic -> {source, listeners:Set, status}

function open(topic, channel) {
  const qs = new URLSearchParams({ topic, access_token: session.token || '' })
  const source = new EventSource(`/api/v1/stream?${qs}`)
  channel.source = source
  const deliver = (ev) => {
    let data = {}
    try {
      data = JSON.parse(ev.data)
    } catch {
      return
    }
    for (const fn of channel.listeners) fn(ev.type, data)
  }
  for (const name of NAMES[topic] || []) source.addEventListener(name, deliver)
  source.onmessage = deliver
  source.onopen = () => {
    channel.status = 'open'
  }
  source.onerror = () => {
    channel.status = 'reconnecting' // EventSource retries by itself
  }
}

// Subscribe to a topic ('cases.*', 'alarms.*' or 'river.*'); returns the unsubscribe function.
export function subscribe(topic, fn) {
  let channel = channels.get(topic)
  if (!channel) {
    channel = { source: null, listeners: new Set(), status: 'connecting' }
    channels.set(topic, channel)
    open(topic, channel)
  }
  channel.listeners.add(fn)
  return () => {
    channel.listeners.delete(fn)
    if (channel.listeners.size === 0) {
      channel.source.close()
      channels.delete(topic)
    }
  }
}

export function closeAll() {
  for (const channel of channels.values()) channel.source.close()
  channels.clear()
}
