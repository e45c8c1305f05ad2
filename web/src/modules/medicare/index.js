// 智慧医保: the resident's 买药 (渝药易购: search, compare nearby pharmacies, order, pay from the
// personal account or a relative's by 家庭共济, follow the delivery) and the insurance bureau's
// pages: 价格治理 (price outliers, ranking, map), DRG (grouping with its trace, CMI) and 基金监管
// (fund-supervision clues, clues.js).
import clues from './clues.js'
import messages from './messages.js'

const RESIDENT = ['resident']
const BUREAU = ['insurance_analyst', 'city_admin']
const mobile = (component) => ({ component, meta: { roles: RESIDENT, layout: 'mobile' } })
const desk = (component) => ({ component, meta: { roles: BUREAU } })

export default {
  name: 'medicare',
  messages,
  routes: [
    { path: '/medicare', ...mobile(() => import('./Buy.vue')) },
    { path: '/medicare/orders', ...mobile(() => import('./Orders.vue')) },
    { path: '/medicare/prices', ...desk(() => import('./Prices.vue')) },
    { path: '/medicare/drg', ...desk(() => import('./Drg.vue')) },
    ...clues.routes,
  ],
  nav: [
    { to: '/medicare', label: 'medicare.nav.buy', roles: RESIDENT, order: 40 },
    { to: '/medicare/orders', label: 'medicare.nav.orders', roles: RESIDENT, order: 41 },
    { to: '/medicare/prices', label: 'medicare.nav.prices', roles: BUREAU, order: 60 },
    { to: '/medicare/drg', label: 'medicare.nav.drg', roles: BUREAU, order: 61 },
    ...clues.nav,
  ],
  // 基金监管线索 (clues.js) bring their own messages; the analyst lands on 价格治理.
  home: [{ roles: ['insurance_analyst'], to: '/medicare/prices', priority: 10 }],
}
