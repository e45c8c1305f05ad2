// Money is integer fen in the API; shown in yuan with two decimals.
export const yuan = (fen) => (fen === null || fen === undefined ? '—' : (fen / 100).toFixed(2))
export const pct = (x) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`)
export const newKey = () =>
  (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`)
