// One ticking "now" for every countdown on the page (one timer, however many rows).
import { ref } from 'vue'

export const now = ref(Date.now())
let users = 0
let timer = null

// Call in setup; the returned function stops this user's interest (call it in onBeforeUnmount).
export function useNow() {
  users += 1
  if (!timer) timer = setInterval(() => (now.value = Date.now()), 1000)
  return () => {
    users -= 1
    if (users === 0) {
      clearInterval(timer)
      timer = null
    }
  }
}
