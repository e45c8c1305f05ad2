// Photos of a case: what the page checks before an upload (the API checks again, by content),
// where a reference is shown from, and which photos are the report's (处置前) and which came
// after (处置后), read from the steps of the case's history that added them.
import { api } from '../../core/api.js'

export const MAX_PHOTO_BYTES = 8 * 1024 * 1024 // the API's CITYOPS_PHOTO_MAX_BYTES default
const TYPES = ['image/jpeg', 'image/png', 'image/webp']

// The first bytes say what a file is; a text file renamed .jpg is caught here, before upload.
function sniff(bytes) {
  const b = new Uint8Array(bytes)
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg'
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png'
  const text = (from, to) => String.fromCharCode(...b.slice(from, to))
  if (text(0, 4) === 'RIFF' && text(8, 12) === 'WEBP') return 'image/webp'
  return null
}

// null if the file may be uploaded, else {key, params} of the message to show.
export async function checkPhoto(file) {
  const mb = MAX_PHOTO_BYTES / 1024 / 1024
  const name = file.name || 'photo'
  if (file.size === 0) return { key: 'field.photo.empty', params: { name } }
  if (file.type && !TYPES.includes(file.type)) return { key: 'field.photo.badType', params: { name } }
  if (file.size > MAX_PHOTO_BYTES) {
    const size = Math.ceil((file.size / 1024 / 1024) * 10) / 10 // rounded up: never "8.0 MB, over 8 MB"
    return { key: 'field.photo.tooBig', params: { name, mb, size: size.toFixed(1) } }
  }
  const head = await file.slice(0, 12).arrayBuffer()
  if (!sniff(head)) return { key: 'field.photo.badType', params: { name } }
  return null
}

// Upload one checked photo → {ref, url} (POST /photos, multipart field "file").
export async function uploadPhoto(file) {
  const form = new FormData()
  form.append('file', file, file.name || 'photo')
  const stored = await api.form('photos', form)
  return { ref: stored.ref, url: stored.url }
}

// Where an <img> finds a reference: our own "photo:<sha>.<ext>", or a URL kept elsewhere.
export function photoUrl(ref) {
  return ref.startsWith('photo:') ? `/api/v1/photos/${ref.slice('photo:'.length)}` : ref
}

const BEFORE = ['report']
const AFTER = ['feedback', 'self_handle']
const EVIDENCE = ['verify_pass', 'verify_fail']

// {before, after, evidence} references of a case read with its history.
export function splitPhotos(c) {
  const photos = c.photos || []
  const history = c.history || []
  const named = history.some((h) => Array.isArray(h.payload?.photos))
  if (!named) {
    // A case recorded before steps named their photos: the first is the report's.
    const handled = Boolean(c.handled_at)
    return { before: photos.slice(0, 1), after: handled ? photos.slice(1) : [], evidence: [] }
  }
  const of = (actions) => history.filter((h) => actions.includes(h.action)).flatMap((h) => h.payload.photos || [])
  const after = of(AFTER)
  const evidence = of(EVIDENCE)
  const later = new Set([...after, ...evidence])
  const before = [...new Set([...of(BEFORE), ...photos.filter((p) => !later.has(p))])]
  return { before, after, evidence }
}
