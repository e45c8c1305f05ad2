// The small chart of each board, as an ECharts option built from the board's own data; null when
// the data would make an empty chart. Pure: `t` translates, nothing is fetched.
import { BUILDING_KINDS } from './twin.js'

const TEXT = '#8fb3d9'
const LINE = 'rgba(53, 195, 255, 0.15)'
const PALETTE = ['#35c3ff', '#3ad29f', '#ffb547', '#ff6b81', '#9b8cff', '#5fd3f3', '#eccc68']

const base = { backgroundColor: 'transparent', color: PALETTE, textStyle: { color: TEXT, fontSize: 11 }, animationDuration: 600 }

export function metricValue(board, key) {
  const m = board.metrics.find((x) => x.key === key)
  return m && typeof m.value === 'number' ? m.value : null
}

function donut(parts, center) {
  const data = parts.filter((p) => p.value > 0)
  if (!data.length) return null
  const total = data.reduce((s, p) => s + p.value, 0)
  return {
    ...base,
    tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
    legend: { orient: 'vertical', right: 0, top: 'middle', itemWidth: 8, itemHeight: 8, textStyle: { color: TEXT, fontSize: 11 } },
    title: {
      text: String(total),
      subtext: center,
      left: '29%',
      top: '32%',
      textAlign: 'center',
      textStyle: { color: '#e6f1ff', fontSize: 16, fontWeight: 700 },
      subtextStyle: { color: TEXT, fontSize: 10 },
      itemGap: 2,
    },
    series: [
      {
        type: 'pie',
        radius: ['52%', '78%'],
        center: ['30%', '50%'],
        label: { show: false },
        itemStyle: { borderColor: '#0b2a4f', borderWidth: 2 },
        data: data.map((p, i) => ({ ...p, itemStyle: p.color ? { color: p.color } : { color: PALETTE[i % PALETTE.length] } })),
      },
    ],
  }
}

function bars(rows, { name, horizontal = false, color = '#35c3ff' }) {
  if (!rows.length || rows.every((r) => !r.value)) return null
  const labels = shortLabels(rows.map((r) => r.label))
  const values = rows.map((r) => r.value)
  const gradient = {
    type: 'linear', x: 0, y: horizontal ? 0 : 1, x2: horizontal ? 1 : 0, y2: 0,
    colorStops: [{ offset: 0, color: 'rgba(53,195,255,0.15)' }, { offset: 1, color }],
  }
  const cat = {
    type: 'category', data: labels, axisTick: { show: false }, axisLine: { lineStyle: { color: LINE } },
    axisLabel: { color: TEXT, fontSize: 10, width: horizontal ? 86 : 56, overflow: 'truncate', interval: 0 },
  }
  const val = { type: 'value', splitLine: { lineStyle: { color: LINE } }, axisLabel: { color: TEXT, fontSize: 10 }, minInterval: 1 }
  return {
    ...base,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 4, right: horizontal ? 28 : 6, top: 10, bottom: 2, containLabel: true },
    xAxis: horizontal ? val : cat,
    yAxis: horizontal ? { ...cat, inverse: true } : val,
    series: [
      {
        type: 'bar', name, data: values, barMaxWidth: 14, itemStyle: { color: gradient, borderRadius: horizontal ? [0, 3, 3, 0] : [3, 3, 0, 0] },
        label: horizontal ? { show: true, position: 'right', color: '#e6f1ff', fontSize: 10 } : { show: false },
      },
    ],
  }
}

function gauge(value, name, color = '#3ad29f') {
  if (value === null || value === undefined) return null
  return {
    ...base,
    series: [
      {
        type: 'gauge', min: 0, max: 100, radius: '92%', center: ['50%', '58%'], startAngle: 210, endAngle: -30,
        progress: { show: true, width: 9, itemStyle: { color } },
        axisLine: { lineStyle: { width: 9, color: [[1, 'rgba(53,195,255,0.12)']] } },
        axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false }, pointer: { show: false },
        title: { offsetCenter: [0, '42%'], color: TEXT, fontSize: 11 },
        detail: { offsetCenter: [0, '0%'], formatter: '{value}%', color: '#e6f1ff', fontSize: 18, fontWeight: 700 },
        data: [{ value, name }],
      },
    ],
  }
}

const CHARTED = ['overview', 'management', 'mutual_aid', 'safety', 'livable', 'elderly', 'co_governance', 'supervision']

// Whether the board has a chart at all (便民服务 shows icons instead).
export function hasChart(key) {
  return CHARTED.includes(key)
}

// Labels without what they all begin with (民主村9栋, 民主村37栋 → 9栋, 37栋), for narrow axes.
export function shortLabels(labels) {
  if (labels.length < 2) return labels
  let n = 0
  while (labels.every((l) => l.length > n + 1 && l[n] === labels[0][n])) n++
  return labels.map((l) => l.slice(n))
}

// The chart option for one board, or null (no chart, or nothing to draw yet).
export function boardChart(board, t) {
  const items = board.items || []
  const k = (key) => t(`community.boards.${key}`)
  switch (board.key) {
    case 'overview':
      return donut(
        items.map((i) => ({ name: t(`community.buildingKind.${kindKey(i.kind)}`), value: i.count })),
        t('community.layers.building'),
      )
    case 'management':
      if (items.length)
        return bars(items.slice(0, 5).map((i) => ({ label: i.category_name, value: i.count })), { name: k('count'), horizontal: true, color: '#ffb547' })
      return openClosed(board, k)
    case 'mutual_aid':
      return bars(items.map((i) => ({ label: i.name, value: i.participants })), { name: k('participants'), color: '#3ad29f' })
    case 'safety':
      return donut(
        [
          { name: k('online'), value: metricValue(board, 'cameras_online') || 0, color: '#3ad29f' },
          { name: k('offline'), value: metricValue(board, 'cameras_offline') || 0, color: '#6b7d93' },
        ],
        t('community.layers.camera'),
      )
    case 'livable':
      return gauge(metricValue(board, 'green_cover'), k('greenCover'), '#3ad29f')
    case 'elderly':
      return bars(
        items.filter((i) => i.elderly !== undefined).slice(0, 8).map((i) => ({ label: i.name, value: i.elderly })),
        { name: k('elderly'), color: '#ffb547' },
      )
    case 'co_governance':
      return openClosed(board, k)
    case 'supervision':
      return gauge(metricValue(board, 'on_time_rate'), k('onTime'), '#35c3ff')
    default:
      return null
  }
}

function openClosed(board, k) {
  return donut(
    [
      { name: k('open'), value: metricValue(board, 'open') || 0, color: '#ffb547' },
      { name: k('closed'), value: metricValue(board, 'closed') || 0, color: '#3ad29f' },
    ],
    '',
  )
}

function kindKey(kind) {
  return BUILDING_KINDS[kind] || 'residential'
}
