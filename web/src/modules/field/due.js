// Deadline countdowns (处置时限): one ticking "now" shared by every card on a page.
import { onBeforeUnmount, onMounted, ref } from 'vue'

export function useNow(everyMs = 30_000) {
  const now = ref(Date.now())
  let timer = null
  onMounted(() => {
    timer = setInterval(() => (now.value = Date.now()), everyMs)
  })
  onBeforeUnmount(() => clearInterval(timer))
  return now
}

// {tone: ok|soon|over|none, key, params} for t(); "soon" is under two hours left.
export function countdown(deadlineIso, now) {
  if (!deadlineIso) return { tone: 'none', key: 'field.due.none', params: {} }
  const ms = new Date(deadlineIso).getTime() - now
  const abs = Math.abs(ms)
  const d = Math.floor(abs / 86_400_000)
  const h = Math.floor((abs % 86_400_000) / 3_600_000)
  const m = Math.floor((abs % 3_600_000) / 60_000)
  const [key, params] = d > 0 ? ['days', { d, h }] : h > 0 ? ['hours', { h, m }] : ['minutes', { m }]
  const tone = ms < 0 ? 'over' : ms < 2 * 3_600_000 ? 'soon' : 'ok'
  return { tone, key: ms < 0 ? 'field.due.over' : 'field.due.left', params: { timeKey: `field.due.${key}`, ...params } }
}
