// GB 3838 water classes: the conventional map colours (I/II blue, III green, IV yellow, V orange,
// 劣V red) and the helpers the list, the map and the assessment share.
export const CLASSES = ['I', 'II', 'III', 'IV', 'V', '劣V']

export const CLASS_COLORS = {
  I: '#2f8cff',
  II: '#35c3ff',
  III: '#3ad29f',
  IV: '#ffd23f',
  V: '#ff8c2e',
  劣V: '#ff4d4f',
}

// No reading yet (现状 unknown): grey, so it is never mistaken for a class.
export const NO_DATA_COLOR = '#5b7390'

export const classColor = (c) => CLASS_COLORS[c] || NO_DATA_COLOR

// The map legend: each class I–劣V in its colour, then "no data" (only shown for the current class).
export const LEGEND = CLASSES.map((key) => ({ key, color: CLASS_COLORS[key] }))

// The worse of two classes (null = no data, never worse than a class).
export function worse(a, b) {
  if (!a) return b || null
  if (!b) return a
  return CLASSES.indexOf(a) >= CLASSES.indexOf(b) ? a : b
}

// A section's current class from its stations' latest single-factor classes: the worst station
// (a section with two stations is as good as its worse one; no station with data → null).
export function sectionClasses(stations) {
  const out = {}
  for (const s of stations) {
    if (s.latest_class) out[s.section_code] = worse(out[s.section_code], s.latest_class)
    else if (!(s.section_code in out)) out[s.section_code] = null
  }
  return out
}

// The items a station's panel draws a 48-hour sparkline for (the fast movers of a discharge).
export const KEY_ITEMS = ['nh3n', 'do', 'codmn', 'tp', 'turbidity', 'conductivity']

// The common items the form asks for (mg/L; pH unitless), in the order a lab sheet lists them.
export const ITEMS = ['ph', 'do', 'codmn', 'cod', 'bod5', 'nh3n', 'tp', 'tn']
export const BLACK_ODOROUS = ['transparency_cm', 'do', 'orp', 'nh3n']

export const LEVELS = ['city', 'district', 'street', 'village']

// Text on a class-coloured background: dark on the light colours, white on blue and red.
export function classStyle(c) {
  const bg = classColor(c)
  const dark = ['III', 'IV', 'V', 'II'].includes(c)
  return { background: bg, borderColor: bg, color: dark ? '#04152b' : '#fff' }
}

// A class's name: 'III类' / 'Class III'; 劣V (worse than V) has words of its own in English.
export const className = (t, c) => (c === '劣V' ? t('river.section.classWorst') : t('river.section.classN', { c }))

// The verbal grades best first (GB 3838's 优 for I–II … 重度污染 for 劣V) in the class colours.
export const GRADES = ['优', '良好', '轻度污染', '中度污染', '重度污染']
export const GRADE_COLORS = {
  优: CLASS_COLORS.II,
  良好: CLASS_COLORS.III,
  轻度污染: CLASS_COLORS.IV,
  中度污染: CLASS_COLORS.V,
  重度污染: CLASS_COLORS['劣V'],
}

// The API's verbal grade (优 … 重度污染) as a message key.
export const GRADE_KEYS = { 优: 'excellent', 良好: 'good', 轻度污染: 'slight', 中度污染: 'moderate', 重度污染: 'heavy' }
