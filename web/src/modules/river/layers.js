// The river map's layers as plain functions of the data (the map component only places them):
// sections coloured by their current or target class, stations coloured by their latest class,
// open pollution events, and one patrol's cleaned track with its flagged fixes. Every drawn
// element carries a data-* attribute so a person's click can be found by the browser tests.
import { L } from '../../core/map.js'
import { classColor, className } from './classes.js'

export function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

// Set attributes on a vector layer's SVG element once Leaflet has created it.
function tagged(layer, attrs) {
  layer.on('add', () => {
    const el = layer.getElement?.()
    if (el) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v ?? '')
  })
  return layer
}

const latlngsOf = (coords) => coords.map(([lng, lat]) => [lat, lng])

// Sections: a dark casing under a line in the class colour (current or target); a current class
// nobody has measured is a grey dashed line. onPick(code) on a click. Returns the group and the
// chosen section's bounds (to bring it into view).
export function sectionsLayer({ rivers, selected, mode, current, renderer, t, onPick }) {
  const group = L.featureGroup()
  let chosenBounds = null
  for (const fc of Object.values(rivers)) {
    for (const f of fc.features) {
      const p = f.properties
      const chosen = p.code === selected
      const latlngs = latlngsOf(f.geometry.coordinates)
      if (chosen) chosenBounds = L.latLngBounds(latlngs)
      const now = current[p.code] ?? null
      const shown = mode === 'target' ? p.target_class : now
      const unknown = mode === 'current' && !now
      L.polyline(latlngs, { renderer, color: '#02101f', weight: chosen ? 11 : 8, opacity: 0.9, interactive: false, lineCap: 'round' }).addTo(group)
      const line = L.polyline(latlngs, {
        renderer,
        color: chosen ? '#ffffff' : classColor(shown),
        weight: chosen ? 7 : 4.5,
        opacity: 1,
        lineCap: 'round',
        dashArray: unknown && !chosen ? '6 7' : null,
        className: 'river-section',
      })
      const cls = (c) => (c ? className(t, c) : t('river.noData'))
      const tip = `<b>${esc(p.river_name)} · ${esc(p.name)}</b><br>${esc(t('river.current'))}: ${esc(cls(now))}<br>${esc(t('river.section.target'))}: ${esc(cls(p.target_class))}`
      line.bindTooltip(tip, { sticky: true }).on('click', () => onPick(p.code))
      tagged(line, { 'data-section': p.code, 'data-class': shown || 'none' }).addTo(group)
    }
  }
  return { group, chosenBounds }
}

// Stations: a dot in the latest class's colour (grey before any reading), larger when chosen.
// Two stations of a section may sit close together: the silent ones are drawn first, so one with
// readings is never hidden under one without, and the chosen one is drawn last of all.
const drawOrder = (s, selected) => (s.code === selected ? 2 : s.latest_class ? 1 : 0)

export function stationsLayer({ stations, selected, renderer, t, onPick }) {
  const group = L.featureGroup()
  const ordered = [...stations].sort((a, b) => drawOrder(a, selected) - drawOrder(b, selected))
  for (const s of ordered) {
    const chosen = s.code === selected
    const dot = L.circleMarker([s.lat, s.lng], {
      renderer,
      radius: chosen ? 9 : 6.5,
      color: chosen ? '#ffffff' : '#02101f',
      weight: chosen ? 3 : 2,
      fillColor: classColor(s.latest_class),
      fillOpacity: 1,
      className: 'river-station',
    })
    const cls = s.latest_class ? className(t, s.latest_class) : t('river.noData')
    dot.bindTooltip(`<b>${esc(s.name)}</b><br>${esc(s.river_name)} · ${esc(s.section_name)}<br>${esc(t('river.station.latest'))}: ${esc(cls)}`)
    dot.on('click', (e) => {
      L.DomEvent.stopPropagation(e)
      onPick(s.code)
    })
    tagged(dot, { 'data-station': s.code, 'data-class': s.latest_class || 'none' }).addTo(group)
  }
  return group
}

// Open pollution events: a pulsing warning marker each.
export function eventsLayer({ events, selected, t, onPick }) {
  const group = L.featureGroup()
  for (const e of events) {
    const icon = L.divIcon({
      className: `river-event${e.id === selected ? ' chosen' : ''}`,
      html: `<span data-event="${e.id}">!</span>`,
      iconSize: [22, 22],
      iconAnchor: [11, 11],
    })
    const who = e.chief ? `${e.chief.name || ''} (${t(`river.level.${e.chief.level}`)})` : t('river.events.noChief')
    L.marker([e.lat, e.lng], { icon, pane: 'events', zIndexOffset: 1000 })
      .bindTooltip(`<b>${esc(e.river_name)} · ${esc(e.section_name)}</b><br>${esc(e.case_title)}<br>${esc(t('river.events.chief'))}: ${esc(who)}`)
      .on('click', () => onPick(e.id))
      .addTo(group)
  }
  return group
}

// One patrol: its cleaned track (a MultiLineString of stretches) and the fixes it did not trust.
export function trackLayer({ patrol, renderer, t }) {
  const group = L.featureGroup()
  const geometry = patrol.track?.geometry
  const lines = geometry?.type === 'MultiLineString' ? geometry.coordinates : geometry?.type === 'LineString' ? [geometry.coordinates] : []
  for (const coords of lines) {
    if (coords.length < 2) continue
    L.polyline(latlngsOf(coords), { renderer, color: '#02101f', weight: 8, opacity: 0.8, interactive: false }).addTo(group)
    const line = L.polyline(latlngsOf(coords), { renderer, color: '#f5f7ff', weight: 4, opacity: 1, className: 'patrol-track' })
    line.bindTooltip(`${esc(patrol.staff_name)} · ${esc(t('river.patrols.km', { km: (patrol.mileage_m / 1000).toFixed(2) }))}`, { sticky: true })
    tagged(line, { 'data-patrol': patrol.id }).addTo(group)
  }
  for (const f of patrol.flagged_points?.features || []) {
    const [lng, lat] = f.geometry.coordinates
    const flag = f.properties?.flag
    const dot = L.circleMarker([lat, lng], { renderer, radius: 5, color: '#ffb547', weight: 2, fillColor: '#02101f', fillOpacity: 1, className: 'patrol-flagged' })
    dot.bindTooltip(t('river.patrols.flaggedFix', { flag: flag && t(`river.patrols.flag.${flag}`) }))
    tagged(dot, { 'data-flag': flag }).addTo(group)
  }
  return group
}
