// Routes come from the modules; the guard sends strangers to the login page and keeps each role
// to the pages it may open (the API enforces the same scopes; this only spares a useless page).
import { createRouter, createWebHistory } from 'vue-router'
import { routes as moduleRoutes, homeFor } from '../modules/index.js'
import { session, loggedIn } from './auth.js'
import Login from '../pages/Login.vue'
import NotFound from '../pages/NotFound.vue'
import Home from '../pages/Home.vue'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', component: Login, meta: { public: true, bare: true } },
    { path: '/', redirect: () => (loggedIn.value ? homeFor(session.me.role) : '/login') },
    { path: '/home', component: Home },
    ...moduleRoutes,
    { path: '/:rest(.*)*', component: NotFound, meta: { public: true } },
  ],
})

router.beforeEach((to) => {
  if (to.meta.public) return true
  if (!loggedIn.value) return { path: '/login', query: { next: to.fullPath } }
  const roles = to.meta.roles
  if (roles && !roles.includes(session.me.role)) {
    const home = homeFor(session.me.role)
    return { path: home === to.path ? '/home' : home, query: { denied: to.path } }
  }
  return true
})
