// Runs before the editor scripts on the page TestEditorInChromium serves:
// records CSP violations and seeds the drafts the editor should find.
"use strict";
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
localStorage.clear();
const saved = "2024-05-01T10:00:00.000Z";
const put = (key, value, baseEtag) => localStorage.setItem(key, JSON.stringify({ value, baseEtag, savedAt: saved }));
put("hubdesk:draft:twin:dev1:tags", '{\n  "site": "draft"\n}', "AAAAAAAAAAE=");
put("hubdesk:draft:twin:dev1:desired", '{\n  "rate": 99\n}', "AAAAAAAAAAA="); // an older version
put("hubdesk:draft:stale", "{}", "x");
put("hubdesk:draft:carrier", "{}", "x");
