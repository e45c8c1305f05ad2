// The hook for the text classifier (POST /classify, to come): given what the resident typed,
// return a category code to preselect, or null. Until the classifier exists it suggests nothing;
// the report page awaits it, so it may become async without touching the page.
export function suggestCategory(text) {
  void text
  return null
}
