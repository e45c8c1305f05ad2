// ECharts options for the cockpit's three charts, as pure functions of the summary, in the
// big-screen palette. The page keeps one chart instance each and hands it these options.

export const RATING_COLORS = { A: '#3ad29f', B: '#35c3ff', C: '#ffd166', D: '#ffb547', E: '#ff5d5d' }
const AXIS = { color: '#8fb3d9', fontSize: 11 }
const SPLIT = { lineStyle: { color: 'rgba(53,195,255,0.12)' } }
const TOOLTIP = {
  backgroundColor: 'rgba(6,26,51,0.92)',
  borderColor: '#1d4f8a',
  textStyle: { color: '#e6f1ff', fontSize: 12 },
}

// A linear gradient as ECharts takes it (plain data: this module needs no ECharts import, so
// the page paints its tiles before the chart library has loaded).
const fade = (from, to, horizontal = false) => ({
  type: 'linear',
  x: 0,
  y: horizontal ? 0 : 1,
  x2: horizontal ? 1 : 0,
  y2: 0,
  colorStops: [
    { offset: 0, color: from },
    { offset: 1, color: to },
  ],
})

// Cases by category, last 30 days: horizontal bars, the largest on top.
export function categoryOption(byCategory, t) {
  const rows = [...byCategory].reverse()
  return {
    tooltip: { ...TOOLTIP, trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 44, top: 6, bottom: 4, containLabel: true },
    xAxis: { type: 'value', axisLabel: { show: false }, splitLine: SPLIT },
    yAxis: {
      type: 'category',
      data: rows.map((r) => r.name),
      axisLabel: { ...AXIS, width: 96, overflow: 'truncate' },
      axisLine: { lineStyle: { color: '#1d4f8a' } },
      axisTick: { show: false },
    },
    series: [
      {
        name: t('cockpit.chart.cases'),
        type: 'bar',
        barWidth: '56%',
        barMaxWidth: 16,
        data: rows.map((r) => ({
          value: r.count,
          itemStyle: r.code === 'other' ? { color: 'rgba(143,179,217,0.45)' } : undefined,
        })),
        itemStyle: { borderRadius: [0, 3, 3, 0], color: fade('rgba(53,195,255,0.25)', '#35c3ff', true) },
        label: { show: true, position: 'right', color: '#e6f1ff', fontSize: 11 },
      },
    ],
  }
}

// Reported against closed per day, 30 days.
export function trendOption(trend, t) {
  const line = (name, key, color, area) => ({
    name,
    type: 'line',
    smooth: 0.3,
    symbol: 'circle',
    symbolSize: 4,
    showSymbol: false,
    data: trend.map((d) => d[key]),
    lineStyle: { width: 2, color },
    itemStyle: { color },
    areaStyle: { color: fade('rgba(0,0,0,0)', area) },
  })
  return {
    tooltip: { ...TOOLTIP, trigger: 'axis' },
    legend: { top: 0, right: 4, textStyle: AXIS, itemWidth: 14, itemHeight: 8 },
    grid: { left: 6, right: 12, top: 26, bottom: 4, containLabel: true },
    xAxis: {
      type: 'category',
      boundaryGap: false,
      data: trend.map((d) => String(d.date).slice(5)),
      axisLabel: AXIS,
      axisLine: { lineStyle: { color: '#1d4f8a' } },
    },
    yAxis: { type: 'value', minInterval: 1, axisLabel: AXIS, splitLine: SPLIT },
    series: [
      line(t('cockpit.chart.reported'), 'reported', '#35c3ff', 'rgba(53,195,255,0.35)'),
      line(t('cockpit.chart.closed'), 'closed', '#3ad29f', 'rgba(58,210,159,0.25)'),
    ],
  }
}

const score = (d) => (d.known ? d.value.toFixed(1) : '—')

// Children ranked by the composite KPI score, best on top, each bar coloured by its rating (A–E).
export function rankingOption(ranking, t, shown = 12) {
  const rows = ranking.map((r, i) => ({
    value: r.score ?? 0,
    known: r.score !== null && r.score !== undefined,
    code: r.code,
    rating: r.rating,
    name: `${r.rank ?? i + 1}. ${r.name}`,
    itemStyle: {
      color: fade('rgba(0,0,0,0)', RATING_COLORS[r.rating] || '#5b6f86', true),
      borderRadius: [0, 3, 3, 0],
    },
  }))
  const scroll = rows.length > shown
  return {
    tooltip: {
      ...TOOLTIP,
      trigger: 'item',
      formatter: (p) =>
        `${p.data.name}<br/>${t('cockpit.chart.score')}: ${score(p.data)} · ${p.data.rating || '—'}`,
    },
    grid: { left: 6, right: scroll ? 58 : 50, top: 4, bottom: 4, containLabel: true },
    xAxis: { type: 'value', max: 100, axisLabel: { show: false }, splitLine: SPLIT },
    yAxis: {
      type: 'category',
      inverse: true,
      data: rows.map((r) => r.name),
      axisLabel: { ...AXIS, width: 104, overflow: 'truncate' },
      axisTick: { show: false },
      axisLine: { lineStyle: { color: '#1d4f8a' } },
    },
    dataZoom: scroll
      ? [
          { type: 'inside', yAxisIndex: 0, startValue: 0, endValue: shown - 1, zoomLock: true },
          { type: 'slider', yAxisIndex: 0, width: 6, right: 2, startValue: 0, endValue: shown - 1,
            showDetail: false, brushSelect: false, handleSize: 0, borderColor: 'transparent',
            fillerColor: 'rgba(53,195,255,0.4)', backgroundColor: 'rgba(53,195,255,0.08)' },
        ]
      : [],
    series: [
      {
        name: t('cockpit.chart.score'),
        type: 'bar',
        barWidth: '58%',
        barMaxWidth: 14,
        data: rows,
        label: {
          show: true,
          position: 'right',
          fontSize: 11,
          formatter: (p) => `{r${p.data.rating || 'N'}|${p.data.rating || '—'}} ${score(p.data)}`,
          color: '#e6f1ff',
          rich: Object.fromEntries(
            [...Object.entries(RATING_COLORS), ['N', '#5b6f86']].map(([k, c]) => [
              `r${k}`,
              { color: '#061a33', backgroundColor: c, borderRadius: 2, padding: [1, 3], fontWeight: 700 },
            ]),
          ),
        },
      },
    ],
  }
}
