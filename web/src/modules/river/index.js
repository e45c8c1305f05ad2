// 智慧河长: rivers and their sections on the map, each section's chiefs (河长制), and the
// GB 3838-2002 water-quality assessment (水质评价) with the black-odorous grade.
import messages from './messages.js'

const ROLES = ['city_admin', 'district_dispatcher', 'street_staff']
const page = () => import('./RiverPage.vue')

export default {
  name: 'river',
  messages,
  routes: [
    { path: '/river', component: page, meta: { roles: ROLES } },
    { path: '/river/:code', component: page, meta: { roles: ROLES } },
  ],
  nav: [{ to: '/river', label: 'river.nav', roles: ROLES, order: 35 }],
}
