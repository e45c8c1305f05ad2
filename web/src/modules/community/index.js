// 数字社区驾驶舱: a community's digital twin, nine boards, cameras and residents' reports.
import messages from './messages.js'

const ROLES = ['city_admin', 'district_dispatcher', 'street_staff']
const page = () => import('./CommunityPage.vue')

export default {
  name: 'community',
  messages,
  routes: [
    // /community opens the user's own community (民主村 for the demo's desk roles).
    { path: '/community/:code?', component: page, meta: { roles: ROLES } },
  ],
  nav: [{ to: '/community', label: 'community.nav', roles: ROLES, order: 30 }],
  // Street staff work closest to the communities; others land on their own cockpits first.
  home: [{ roles: ['street_staff'], to: '/community', priority: 5 }],
}
