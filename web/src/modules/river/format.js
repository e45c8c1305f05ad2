// Small formatters the river page and the patrol phone page share.

// Seconds as "1小时5分" / "1 h 5 min" (t is vue-i18n's t; keys under river.time).
export function duration(seconds, t) {
  const s = Math.max(0, Math.round(seconds || 0))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (h) return t('river.time.hm', { h, m })
  if (m) return t('river.time.m', { m })
  return t('river.time.s', { s })
}

// A share 0..1 as a whole percentage, or a dash when there is none.
export const percent = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)}%`)

// Kilometres with two decimals from metres.
export const km = (m) => ((m || 0) / 1000).toFixed(2)
