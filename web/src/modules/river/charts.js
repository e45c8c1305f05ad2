// ECharts options of the river page as pure functions of the API's answers (no ECharts import:
// the cockpit's Chart component owns the instance): a station item's 48-hour sparkline, and a
// river's monthly grade and item means.
import { formatTime } from '../../core/i18n.js'
import { GRADE_COLORS, GRADE_KEYS, GRADES } from './classes.js'

const AXIS = { color: '#8fb3d9', fontSize: 11 }
const SPLIT = { lineStyle: { color: 'rgba(53,195,255,0.12)' } }
const TOOLTIP = {
  backgroundColor: 'rgba(6,26,51,0.92)',
  borderColor: '#1d4f8a',
  textStyle: { color: '#e6f1ff', fontSize: 12 },
}

// A sparkline: the series as a thin line with a faint area, the axis hidden, values on hover.
export function sparkOption(series, color = '#35c3ff') {
  const points = series?.points || []
  return {
    animation: false,
    grid: { left: 2, right: 2, top: 3, bottom: 3 },
    tooltip: { ...TOOLTIP, trigger: 'axis', formatter: (p) => `${formatTime(p[0].value[0])}<br><b>${p[0].value[1]}</b> ${series.unit === '1' ? '' : series.unit}` },
    xAxis: { type: 'time', show: false },
    yAxis: { type: 'value', show: false, scale: true },
    series: [
      {
        type: 'line',
        showSymbol: false,
        lineStyle: { width: 1.5, color },
        areaStyle: { color, opacity: 0.15 },
        data: points.map((p) => [p.t, p.v]),
      },
    ],
  }
}

// A river's month by month: the grade (优 … 重度污染: it exists under both the averaging and the
// share rule, where a class exists only under averaging) as a coloured bar, the worse the taller,
// and the key items' monthly means as lines on a second axis.
export function trendOption(trend, t, items = ['nh3n', 'codmn', 'tp', 'do']) {
  const months = trend.months.map((m) => m.month)
  const known = new Set(trend.items.map((i) => i.item))
  const lines = items.filter((k) => known.has(k))
  const gradeName = (g) => (GRADE_KEYS[g] ? t(`river.gradeName.${GRADE_KEYS[g]}`) : g)
  return {
    tooltip: { ...TOOLTIP, trigger: 'axis' },
    legend: { top: 0, textStyle: { color: '#8fb3d9', fontSize: 11 }, itemWidth: 14, itemHeight: 8 },
    grid: { left: 8, right: 8, top: 28, bottom: 4, containLabel: true },
    xAxis: { type: 'category', data: months, axisLabel: AXIS, axisLine: { lineStyle: { color: '#1d4f8a' } } },
    yAxis: [
      {
        type: 'value',
        min: 0,
        max: GRADES.length,
        interval: 1,
        axisLabel: { ...AXIS, formatter: (v) => (v >= 1 ? gradeName(GRADES[v - 1]) : '') },
        splitLine: SPLIT,
      },
      { type: 'value', axisLabel: AXIS, splitLine: { show: false }, name: 'mg/L', nameTextStyle: AXIS },
    ],
    series: [
      {
        name: t('river.basin.grade'),
        type: 'bar',
        barMaxWidth: 18,
        data: trend.months.map((m) => ({
          value: m.grade ? GRADES.indexOf(m.grade) + 1 : null,
          itemStyle: { color: GRADE_COLORS[m.grade] || '#5b7390', opacity: 0.8 },
        })),
        tooltip: { valueFormatter: (v) => (v ? gradeName(GRADES[v - 1]) : t('river.noData')) },
      },
      ...lines.map((k) => ({
        name: t(`river.item.${k}`),
        type: 'line',
        yAxisIndex: 1,
        connectNulls: false,
        symbolSize: 4,
        data: trend.months.map((m) => m.means?.[k] ?? null),
      })),
    ],
  }
}
