// The sections this account may patrol (those in its jurisdiction: GET /river/rivers and each
// river's sections) with the ones it is river chief of first (GET /river/duty: the chiefs of the
// sections in scope, each with his sections and when the next patrol is due).
import { api } from '../../core/api.js'

export async function patrolSections(staffId) {
  const [list, duty] = await Promise.all([api.get('river/rivers'), api.get('river/duty').catch(() => null)])
  const fcs = await Promise.all(list.items.map((r) => api.get(`river/rivers/${r.code}`)))
  const mine = new Map()
  for (const chief of duty?.items || []) {
    if (chief.staff_id !== staffId) continue
    for (const s of chief.sections) mine.set(s.code, { level: chief.level, status: s.status, due: s.due_date })
  }
  const sections = fcs.flatMap((fc) =>
    fc.features.map((f) => ({
      code: f.properties.code,
      name: f.properties.name,
      river_name: f.properties.river_name,
      length_km: f.properties.length_km,
      geometry: f.geometry,
      chief: mine.get(f.properties.code) || null,
    })),
  )
  sections.sort((a, b) => Number(Boolean(b.chief)) - Number(Boolean(a.chief)) || a.river_name.localeCompare(b.river_name, 'zh') || a.code.localeCompare(b.code))
  return sections
}
