// 城运驾驶舱: the operations cockpit, the landing page of the desk roles (city, district, street).
import messages from './messages.js'

const ROLES = ['city_admin', 'district_dispatcher', 'street_staff']
const page = () => import('./Cockpit.vue')

export default {
  name: 'cockpit',
  messages,
  routes: [
    { path: '/cockpit', component: page, meta: { roles: ROLES, layout: 'desk' } },
    { path: '/cockpit/:code(\\d{6,9})', component: page, meta: { roles: ROLES, layout: 'desk' } },
  ],
  nav: [{ to: '/cockpit', label: 'cockpit.nav', roles: ROLES, order: 10 }],
  home: [{ roles: ROLES, to: '/cockpit', priority: 10 }],
}
