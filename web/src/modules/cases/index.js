// 案件办理 and 绩效评价 for desk staff: the case board, one case with its actions, the KPIs.
// No landing page: the cockpit module takes it.
import { zh, en } from './messages.js'

const DESK = ['city_admin', 'district_dispatcher', 'street_staff']

export default {
  name: 'cases',
  messages: { 'zh-CN': zh, en },
  routes: [
    { path: '/cases', component: () => import('./CaseBoard.vue'), meta: { roles: DESK } },
    { path: '/cases/:id(\\d+)', component: () => import('./CaseDetail.vue'), meta: { roles: DESK } },
    { path: '/kpis', component: () => import('./KpiPage.vue'), meta: { roles: DESK } },
    { path: '/intake', component: () => import('./IntakeQueue.vue'), meta: { roles: DESK } },
  ],
  nav: [
    { to: '/cases', label: 'cases.nav.board', roles: DESK, order: 20 },
    { to: '/intake', label: 'cases.nav.queue', roles: DESK, order: 25 },
    { to: '/kpis', label: 'cases.nav.kpis', roles: DESK, order: 40 },
  ],
  home: [],
}
