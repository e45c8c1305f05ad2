// The extensible shell: every folder under src/modules with an index.js is a module that brings
// its routes, navigation entries, landing page per role and messages. Adding the river-chief or
// medical-insurance pages means adding a folder here; the core pages are not touched.
//
//   export default {
//     name: 'river',                       // messages are merged under t('river.…')
//     messages: { 'zh-CN': {...}, en: {...} },
//     routes: [{ path: '/river', component: () => import('./River.vue'),
//                meta: { roles: ['city_admin'], layout: 'desk' | 'mobile' } }],
//     nav: [{ to: '/river', label: 'river.nav', roles: [...], order: 50 }],
//     home: [{ roles: ['city_admin'], to: '/river', priority: 5 }],
//   }
import { addMessages } from '../core/i18n.js'

const found = import.meta.glob('./*/index.js', { eager: true })

export const modules = Object.keys(found)
  .sort()
  .map((path) => found[path].default)
  .filter(Boolean)

for (const mod of modules) addMessages(mod.name, mod.messages)

export const routes = modules.flatMap((m) => m.routes || [])

export function navFor(role) {
  return modules
    .flatMap((m) => m.nav || [])
    .filter((item) => !item.roles || item.roles.includes(role))
    .sort((a, b) => (a.order ?? 100) - (b.order ?? 100))
}

// Where a role lands after login: the highest-priority module page that role may open.
export function homeFor(role) {
  const choices = modules
    .flatMap((m) => m.home || [])
    .filter((h) => h.roles.includes(role))
    .sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))
  return choices.length ? choices[0].to : '/home'
}
