// The report being typed lives in sessionStorage: it survives a failed submit, a reload and the
// trip through the login page after an expired token (401), and is cleared once the case exists.
const KEY = 'cityops.resident.draft'

export function emptyDraft() {
  return { photos: [], location: null, place: null, description: '', category: null, suggested: false }
}

export function loadDraft() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null')
    return saved ? { ...emptyDraft(), ...saved } : null
  } catch {
    return null
  }
}

export function saveDraft(draft) {
  sessionStorage.setItem(KEY, JSON.stringify(draft))
}

export function clearDraft() {
  sessionStorage.removeItem(KEY)
}

// Whether a draft holds anything the resident typed or picked.
export function hasContent(draft) {
  return Boolean(draft && (draft.photos.length || draft.location || draft.description.trim() || draft.category))
}
