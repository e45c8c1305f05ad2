// System status: the service, the database, the ledger's hash chain and the plans' health.
export default {
  name: 'systemPage',
  routes: [
    {
      path: '/system',
      component: () => import('./System.vue'),
      meta: { roles: ['city_admin', 'district_dispatcher'] },
    },
  ],
  nav: [{ to: '/system', label: 'nav.system', roles: ['city_admin', 'district_dispatcher'], order: 90 }],
  home: [],
}
