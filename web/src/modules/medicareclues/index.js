// TEMPORARY (branch clueweb): registers the fund-supervision clue page until the medicare
// module's index.js takes `../medicare/clues.js` in; delete this folder then.
export { default } from '../medicare/clues.js'
