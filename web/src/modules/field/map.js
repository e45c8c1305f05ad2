// Map bits for the phone pages: 九龙坡's urban core as the default view, a pin that needs no
// image files (a bundled Leaflet cannot find its default marker PNGs), and a navigation link.
import { L } from '../../core/map.js'

export const JIULONGPO = { center: [29.5, 106.47], zoom: 12, district: '500107' }

export function pinIcon(color = '#e8590c') {
  return L.divIcon({
    className: 'field-pin',
    html: `<span style="--pin:${color}"></span>`,
    iconSize: [30, 40],
    iconAnchor: [15, 38],
  })
}

// A phone opens a map app on this link (高德's URI API takes WGS84 with coordinate=wgs84).
export function navigateUrl(lat, lng, name) {
  const to = `${lng},${lat},${encodeURIComponent(name || '')}`
  return `https://uri.amap.com/navigation?to=${to}&mode=car&coordinate=wgs84&callnative=1`
}
