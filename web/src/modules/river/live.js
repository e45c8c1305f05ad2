// The river page's live data: the stations with their latest values (GET /river/stations,
// refreshed every minute: readings are not on the event stream) and the open pollution events
// (GET /river/events?status=open), refreshed at once when the server says so over server-sent
// events: `river.event_opened` on the river topic for a new event, and any case event of a case
// the list shows (its status moves on). A patrol starting or finishing calls onPatrol.
import { onBeforeUnmount, onMounted, ref } from 'vue'
import { api } from '../../core/api.js'
import { subscribe } from '../../core/events.js'

const STATIONS_EVERY_MS = 60_000 // local default: stations report hourly or faster
const DEBOUNCE_MS = 300

function loader(fetch) {
  const data = ref([])
  const error = ref(null)
  const loading = ref(true)
  async function load() {
    try {
      data.value = (await fetch()).items
      error.value = null
    } catch (err) {
      error.value = err
    } finally {
      loading.value = false
    }
  }
  return { data, error, loading, load }
}

export function useRiverLive({ onPatrol } = {}) {
  const stations = loader(() => api.get('river/stations'))
  const events = loader(() => api.get('river/events', { status: 'open' }))
  const live = ref(false)
  let pending = null
  const soon = () => {
    clearTimeout(pending)
    pending = setTimeout(events.load, DEBOUNCE_MS)
  }

  function onRiver(name) {
    if (name === 'river.event_opened') soon()
    else if (name.startsWith('river.patrol.')) onPatrol?.(name)
  }
  function onCase(name, data) {
    if (events.data.value.some((e) => e.case_id === data.case_id)) soon()
  }

  let timer = null
  const offs = []
  onMounted(() => {
    stations.load()
    events.load()
    offs.push(subscribe('river.*', onRiver), subscribe('cases.*', onCase))
    live.value = true
    timer = setInterval(stations.load, STATIONS_EVERY_MS)
  })
  onBeforeUnmount(() => {
    clearInterval(timer)
    clearTimeout(pending)
    offs.forEach((off) => off())
  })
  return { stations, events, live }
}
