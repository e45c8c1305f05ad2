// 巡河 on the phone for river chiefs and grid workers: pick a section, record the GPS track while
// walking it (uploaded in batches, kept on the phone until the server has it), report problems
// with photos as cases, finish, and look back at my patrols. Any staff account linked to a staff
// member may patrol the sections of its jurisdiction (the API checks both).
import messages from './messages.js'

const ROLES = ['field_worker', 'street_staff', 'district_dispatcher', 'inspector']

export default {
  name: 'patrol',
  messages,
  routes: [{ path: '/patrol', component: () => import('./PatrolPage.vue'), meta: { roles: ROLES, layout: 'mobile' } }],
  nav: [{ to: '/patrol', label: 'patrol.nav', roles: ROLES, order: 36 }],
}
