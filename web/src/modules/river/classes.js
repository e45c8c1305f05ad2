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

export const classColor = (c) => CLASS_COLORS[c] || '#8fb3d9'

// The legend groups I and II (both 蓝), as the GB 3838 maps do.
export const LEGEND = [
  { key: 'I-II', color: CLASS_COLORS.I },
  { key: 'III', color: CLASS_COLORS.III },
  { key: 'IV', color: CLASS_COLORS.IV },
  { key: 'V', color: CLASS_COLORS.V },
  { key: '劣V', color: CLASS_COLORS['劣V'] },
]

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

// The API's verbal grade (优 … 重度污染) as a message key.
export const GRADE_KEYS = { 优: 'excellent', 良好: 'good', 轻度污染: 'slight', 中度污染: 'moderate', 重度污染: 'heavy' }
