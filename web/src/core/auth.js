// The logged-in session: token and who-am-I, kept in localStorage so a reload stays logged in.
import { reactive, computed } from 'vue'

const KEY = 'cityops.session'

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || 'null') || {}
  } catch {
    return {}
  }
}

export const session = reactive({ token: null, me: null, ...load() })

export const ROLES = {
  city_admin: 'city_admin',
  district_dispatcher: 'district_dispatcher',
  street_staff: 'street_staff',
  field_worker: 'field_worker',
  inspector: 'inspector',
  resident: 'resident',
}

// Staff who work at a desk: they see the cockpits, the case board and the KPIs.
export const DESK_ROLES = [ROLES.city_admin, ROLES.district_dispatcher, ROLES.street_staff]

export const loggedIn = computed(() => Boolean(session.token && session.me))

export function hasRole(...roles) {
  return Boolean(session.me && roles.includes(session.me.role))
}

export function saveSession(token, me) {
  session.token = token
  session.me = me
  localStorage.setItem(KEY, JSON.stringify({ token, me }))
}

export function clearSession() {
  session.token = null
  session.me = null
  localStorage.removeItem(KEY)
}
