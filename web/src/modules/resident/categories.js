// The category catalogue grouped by major class (大类 → 小类), fetched once per page load.
import { api } from '../../core/api.js'

let cached = null

export async function loadCategories() {
  if (!cached) {
    cached = api.get('categories').then((page) => {
      const groups = new Map()
      for (const c of page.items) {
        if (!groups.has(c.major_code)) groups.set(c.major_code, { code: c.major_code, name: c.major_name, items: [] })
        groups.get(c.major_code).items.push(c)
      }
      const byCode = new Map(page.items.map((c) => [c.code, c]))
      return { groups: [...groups.values()].sort((a, b) => a.code.localeCompare(b.code)), byCode }
    })
    cached.catch(() => {
      cached = null // a failed fetch is tried again next time
    })
  }
  return cached
}
