// One way to call the API: JSON in and out, the bearer token, and errors as ApiError with the
// API's {"error": {"code", "message"}} so pages can show the message and keep what was typed.
import { session, clearSession } from './auth.js'

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

function url(path, query) {
  const u = new URL(path.startsWith('/') ? path : `/api/v1/${path}`, window.location.origin)
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === '') continue
    for (const item of Array.isArray(v) ? v : [v]) u.searchParams.append(k, item)
  }
  return u.pathname + u.search
}

async function failure(res) {
  let code = `http_${res.status}`
  let message = res.statusText || 'request failed'
  try {
    const body = await res.json()
    if (body && body.error) {
      code = body.error.code || code
      message = body.error.message || message
    } else if (body && body.detail) {
      message = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail)
    }
  } catch {
    // not JSON: keep the status text
  }
  if (res.status === 401) {
    clearSession()
    window.dispatchEvent(new CustomEvent('cityops:logged-out', { detail: { code, message } }))
  }
  return new ApiError(res.status, code, message)
}

export async function request(path, { method = 'GET', body, form, query, raw = false, signal, headers: extra } = {}) {
  const headers = { ...(extra || {}) }
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  let payload
  if (form instanceof FormData || form instanceof URLSearchParams) {
    payload = form
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(url(path, query), { method, headers, body: payload, signal })
  } catch (err) {
    if (err.name === 'AbortError') throw err
    throw new ApiError(0, 'network', err.message || 'network error')
  }
  if (!res.ok) throw await failure(res)
  if (raw) return res
  if (res.status === 204) return null
  const type = res.headers.get('content-type') || ''
  return type.includes('json') ? res.json() : res.text()
}

export const api = {
  get: (path, query, opts = {}) => request(path, { ...opts, query }),
  post: (path, body, opts = {}) => request(path, { ...opts, method: 'POST', body }),
  put: (path, body, opts = {}) => request(path, { ...opts, method: 'PUT', body }),
  del: (path, opts = {}) => request(path, { ...opts, method: 'DELETE' }),
  form: (path, form, opts = {}) => request(path, { ...opts, method: 'POST', form }),
}

// Download an authenticated file (e.g. the KPI Excel export) and hand it to the browser.
export async function download(path, query, fallbackName) {
  const res = await request(path, { query, raw: true })
  const disposition = res.headers.get('content-disposition') || ''
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)
  const name = match ? decodeURIComponent(match[1]) : fallbackName
  const blob = await res.blob()
  const link = document.createElement('a')
  link.href = URL.createObjectURL(blob)
  link.download = name
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(link.href), 1000)
  return name
}
