import { createApp } from 'vue'
import 'leaflet/dist/leaflet.css'
import './core/theme.css'
import App from './App.vue'
import { i18n } from './core/i18n.js'
import { router } from './core/router.js'

createApp(App).use(i18n).use(router).mount('#app')

// The resident app installs as a PWA; the service worker only caches the app shell.
if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => navigator.serviceWorker.register('/sw.js').catch(() => {}))
}
