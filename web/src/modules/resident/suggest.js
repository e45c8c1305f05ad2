// The text classifier (POST /classify): what the resident typed → the three likeliest categories
// with confidences, and whether the first is sure enough to preselect (`auto`). Quiet on failure:
// a suggestion is a help, never a reason to stop someone reporting.
import { api } from '../../core/api.js'

export const MIN_CHARS = 4 // shorter text says too little to suggest anything
export const DEBOUNCE_MS = 400

export async function classify(text) {
  const clean = (text || '').trim()
  if (clean.length < MIN_CHARS) return { suggestions: [], auto: false }
  try {
    const body = await api.post('classify', { text: clean.slice(0, 4000) })
    return { suggestions: body.suggestions || [], auto: Boolean(body.auto) }
  } catch {
    return { suggestions: [], auto: false }
  }
}
