// What each case action asks of the person (the fields of TransitionCreate it uses), and how
// its button looks. The API decides which actions are offered (allowed_actions: the state
// machine and the role policy); this only says how to ask for them.

// reason: 'required' (the service refuses the action without one) or 'optional' (recorded).
// extra fields: dispatch (department_id, worker_id), hours (extension_hours), satisfaction,
// method (verification_method), comment, photos.
export const ACTION_FORMS = {
  accept: { tone: 'primary', reason: 'optional' },
  file: { tone: 'primary', reason: 'optional' },
  void: { tone: 'danger', reason: 'required' },
  dispatch: { tone: 'primary', reason: 'optional', extra: ['dispatch'] },
  return: { tone: 'warn', reason: 'required' },
  start: { tone: 'primary', reason: 'optional' },
  feedback: { tone: 'primary', reason: 'optional', extra: ['photos'] },
  verify_pass: { tone: 'primary', reason: 'optional', extra: ['method', 'comment', 'photos'] },
  verify_fail: { tone: 'danger', reason: 'required', extra: ['method', 'photos'] },
  close: { tone: 'primary', reason: 'optional' },
  close_special: { tone: 'danger', reason: 'required' },
  evaluate: { tone: 'primary', reason: 'optional', extra: ['satisfaction', 'comment'] },
  request_extension: { tone: 'warn', reason: 'optional', extra: ['hours'] },
  approve_extension: { tone: 'primary', reason: 'optional' },
  reject_extension: { tone: 'danger', reason: 'optional' },
  shelve: { tone: 'warn', reason: 'required' },
  restore: { tone: 'primary', reason: 'optional' },
  escalate: { tone: 'warn', reason: 'required' },
  self_handle: { tone: 'primary', reason: 'optional', extra: ['photos'] },
  confirm: { tone: 'primary', reason: 'optional', extra: ['comment'] },
  reopen: { tone: 'danger', reason: 'required', extra: ['photos'] },
}

export const METHODS = ['inspector', 'reporter', 'machine']

export function formOf(action) {
  return ACTION_FORMS[action] || { tone: '', reason: 'optional' }
}

export function blankForm() {
  return {
    reason: '',
    comment: '',
    photos: '',
    hours: '',
    satisfaction: '',
    method: 'inspector',
    department_id: '',
    worker_id: '',
  }
}

// The request body of POST /cases/{id}/transitions for this action and form.
export function transitionBody(action, form, version) {
  const spec = formOf(action)
  const extra = spec.extra || []
  const body = { action, expected_version: version }
  if (form.reason.trim()) body.reason = form.reason.trim()
  if (extra.includes('comment') && form.comment.trim()) body.comment = form.comment.trim()
  if (extra.includes('photos')) {
    const photos = form.photos.split(/\s+/).filter(Boolean)
    if (photos.length) body.photos = photos
  }
  if (extra.includes('hours') && form.hours !== '') body.extension_hours = Number(form.hours)
  if (extra.includes('satisfaction') && form.satisfaction !== '') body.satisfaction = Number(form.satisfaction)
  if (extra.includes('method')) body.verification_method = form.method
  if (extra.includes('dispatch')) {
    if (form.department_id !== '') body.department_id = Number(form.department_id)
    if (form.worker_id !== '') body.worker_id = Number(form.worker_id)
  }
  return body
}

// What is missing before the request is worth sending (i18n keys); the API checks again.
export function missing(action, form) {
  const spec = formOf(action)
  const extra = spec.extra || []
  const out = []
  if (spec.reason === 'required' && !form.reason.trim()) out.push('cases.form.needReason')
  if (extra.includes('hours') && !(Number(form.hours) > 0)) out.push('cases.form.needHours')
  if (extra.includes('satisfaction') && form.satisfaction === '') out.push('cases.form.needSatisfaction')
  return out
}
