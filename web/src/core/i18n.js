// zh-CN first, English on a switch; every string goes through here. Modules contribute messages.
import { createI18n } from 'vue-i18n'
import zh from '../locales/zh-CN.js'
import en from '../locales/en.js'

const KEY = 'cityops.locale'
export const LOCALES = [
  { code: 'zh-CN', label: '中文' },
  { code: 'en', label: 'English' },
]

export const i18n = createI18n({
  legacy: false,
  locale: localStorage.getItem(KEY) || 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zh, en },
  missingWarn: false,
  fallbackWarn: false,
})

export function addMessages(name, messages) {
  for (const [locale, body] of Object.entries(messages || {})) {
    i18n.global.mergeLocaleMessage(locale, { [name]: body })
  }
}

export function setLocale(code) {
  i18n.global.locale.value = code
  localStorage.setItem(KEY, code)
  document.documentElement.lang = code
}

// Dates and times are shown in the city's time zone, whatever the browser's.
const ZONE = 'Asia/Shanghai'
export function formatTime(value, { date = true, time = true } = {}) {
  if (!value) return '—'
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return String(value)
  const opts = { timeZone: ZONE, hour12: false }
  if (date) Object.assign(opts, { year: 'numeric', month: '2-digit', day: '2-digit' })
  if (time) Object.assign(opts, { hour: '2-digit', minute: '2-digit' })
  return new Intl.DateTimeFormat(i18n.global.locale.value, opts).format(d)
}

export function formatPercent(value, digits = 1) {
  if (value === null || value === undefined) return '—'
  return `${(value * 100).toFixed(digits)}%`
}
