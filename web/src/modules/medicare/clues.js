// 基金监管线索 (fund-supervision clues) for the medical-insurance bureau: the routes, the menu entry
// and the messages of Clues.vue, taken in by this module's index.js. The messages live under
// their own name (t('medicareClues.…')) and are registered here, so they never collide with the
// medicare module's own.
import { addMessages } from '../../core/i18n.js'

export const ROLES = ['city_admin', 'insurance_analyst']
const NAME = 'medicareClues'

const zh = {
  nav: '基金监管',
  title: '基金监管线索',
  count: '共 {n} 条',
  filters: { rule: '规则', severity: '程度', status: '状态', district: '区县', all: '全部', apply: '查询', reset: '重置' },
  severity: { suspect: '可疑', definite: '明确' },
  status: { new: '待核查', confirmed: '已确认', dismissed: '已排除', case_opened: '已立案' },
  kind: { person: '参保人', pharmacy: '药店', hospital: '医院' },
  col: { id: '编号', rule: '规则', severity: '程度', subject: '对象', district: '区县', window: '期间', count: '明细', amount: '金额(元)', status: '状态' },
  empty: '没有符合条件的线索',
  pick: '选择一条线索查看证据',
  page: '第 {page} / {pages} 页',
  prev: '上一页',
  next: '下一页',
  ev: {
    title: '证据',
    rule: '规则',
    basis: '依据',
    threshold: '阈值',
    institution: '机构',
    count: '命中明细',
    settlements: '结算笔数',
    amount: '金额(元)',
    items: '药品/项目编码',
    persons: '参保人',
    lines: '费用明细号',
    traces: '追溯码',
    firstSold: '首次销售明细号',
    days: '超客流日期',
    maxDay: '单日最多结算',
    maxCnt: '单次最多数量',
    readmissions: '再入院(前次 → 本次)',
    gaps: '间隔天数',
    note: '排除理由',
    case: '案件',
    other: '其他',
  },
  act: {
    case: '立案',
    dismiss: '排除',
    reason: '排除理由',
    reasonHint: '请说明为何排除（必填）',
    confirm: '确认排除',
    cancel: '取消',
    caseOpened: '已立案：案件 #{id}',
    dismissed: '已排除',
    openCase: '查看案件',
  },
  run: {
    title: '运行监管',
    from: '起',
    to: '止',
    go: '运行',
    done: '读取 {lines} 条明细，命中 {hits}，新增线索 {created}',
    running: '后台运行中…',
    failed: '运行失败：{error}',
  },
}

const en = {
  nav: 'Fund supervision',
  title: 'Fund-supervision clues',
  count: '{n} in all',
  filters: { rule: 'Rule', severity: 'Severity', status: 'Status', district: 'District', all: 'All', apply: 'Search', reset: 'Reset' },
  severity: { suspect: 'Suspect', definite: 'Definite' },
  status: { new: 'To review', confirmed: 'Confirmed', dismissed: 'Dismissed', case_opened: 'Case opened' },
  kind: { person: 'Insured person', pharmacy: 'Pharmacy', hospital: 'Hospital' },
  col: { id: 'No.', rule: 'Rule', severity: 'Severity', subject: 'Subject', district: 'District', window: 'Period', count: 'Lines', amount: 'Amount (¥)', status: 'Status' },
  empty: 'No clue matches',
  pick: 'Pick a clue to see its evidence',
  page: 'Page {page} of {pages}',
  prev: 'Previous',
  next: 'Next',
  ev: {
    title: 'Evidence',
    rule: 'Rule',
    basis: 'Legal basis',
    threshold: 'Threshold',
    institution: 'Institution',
    count: 'Lines hit',
    settlements: 'Settlements',
    amount: 'Amount (¥)',
    items: 'Drug / item codes',
    persons: 'Insured persons',
    lines: 'Fee line ids',
    traces: 'Traceability codes',
    firstSold: 'First sold on line',
    days: 'Days over foot traffic',
    maxDay: 'Most settlements in a day',
    maxCnt: 'Largest quantity in a line',
    readmissions: 'Readmissions (earlier → later)',
    gaps: 'Days between',
    note: 'Dismissal reason',
    case: 'Case',
    other: 'Other',
  },
  act: {
    case: 'Open case',
    dismiss: 'Dismiss',
    reason: 'Reason',
    reasonHint: 'Say why this clue is dismissed (required)',
    confirm: 'Dismiss clue',
    cancel: 'Cancel',
    caseOpened: 'Case #{id} opened',
    dismissed: 'Dismissed',
    openCase: 'Open the case',
  },
  run: {
    title: 'Run supervision',
    from: 'From',
    to: 'To',
    go: 'Run',
    done: '{lines} lines read, {hits} hits, {created} new clues',
    running: 'Running in the background…',
    failed: 'The run failed: {error}',
  },
}

export const messages = { 'zh-CN': zh, en }
addMessages(NAME, messages)

// 重庆 main-city districts by adcode; any other code is shown as it is.
export const DISTRICTS = {
  500103: '渝中区', 500104: '大渡口区', 500105: '江北区', 500106: '沙坪坝区', 500107: '九龙坡区',
  500108: '南岸区', 500109: '北碚区', 500112: '渝北区', 500113: '巴南区',
}

export const routes = [
  { path: '/medicare/clues', component: () => import('./Clues.vue'), meta: { roles: ROLES } },
  { path: '/medicare/clues/:id', component: () => import('./Clues.vue'), meta: { roles: ROLES } },
]
export const nav = [{ to: '/medicare/clues', label: `${NAME}.nav`, roles: ROLES, order: 62 }]
export const home = []

export default { name: NAME, messages, routes, nav, home }
