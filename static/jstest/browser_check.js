// Runs after editor.js on the page TestEditorInChromium serves, drives the
// editors, and writes what went wrong into <pre id="result"> as JSON for
// the Go test to read from the dumped DOM.
"use strict";
(function () {
  const failures = [];
  const expect = (cond, what) => { if (!cond) failures.push(what); };
  const eq = (got, want, what) => expect(got === want, `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  const CM = window.HubdeskCodeMirror;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const $ = (sel) => document.querySelector(sel);
  const shadowOf = (id) => $(`#${id} + .json-editor-host`).shadowRoot;
  const viewOf = (id) => CM.EditorView.findFromDOM(shadowOf(id).querySelector(".cm-editor"));
  const text = (id) => $(`#${id}-status`).textContent;
  const draft = (key) => JSON.parse(localStorage.getItem(key));

  async function run() {
    await sleep(600); // past the linter's 200 ms delay
    eq(document.querySelectorAll(".json-editor-host").length, 3, "editors");
    const tags = viewOf("ed-tags"), desired = viewOf("ed-desired"), reported = viewOf("ed-reported");
    expect(tags && desired && reported, "each textarea has an editor after it");
    for (const id of ["ed-tags", "ed-desired", "ed-reported"]) expect($(`#${id}`).hidden, `${id} hidden`);
    expect(!$("#carrier").hidden, "a textarea without data-json-editor is left alone");
    expect(localStorage.getItem("hubdesk:draft:carrier") !== null, "its draft is left alone");
    eq(localStorage.getItem("hubdesk:draft:stale"), null, "draft listed in data-draft-clear");

    // Styles: CodeMirror's own (adoptedStyleSheets) and style.css's.
    const root = shadowOf("ed-tags");
    eq(getComputedStyle(root.querySelector(".cm-editor")).display, "flex", "CodeMirror base theme applied");
    eq(getComputedStyle(root.querySelector(".cm-gutters")).backgroundColor, "rgb(240, 242, 245)", "style.css gutter colour");
    const name = root.querySelector(".tok-propertyName");
    expect(name, "property names highlighted");
    eq(name && getComputedStyle(name).color, "rgb(5, 80, 174)", "style.css token colour");
    eq(root.querySelector(".cm-content").getAttribute("aria-label"), "Tags", "aria-label from <label>");

    // A draft of the same version is restored, and can be discarded.
    eq(tags.state.doc.toString(), '{\n  "site": "draft"\n}', "restored draft");
    eq($("#ed-tags").value, tags.state.doc.toString(), "textarea holds the restored draft");
    expect(text("ed-tags").includes("Restored your unsaved draft from"), `tags notice: ${text("ed-tags")}`);
    expect(text("ed-tags").startsWith("Valid JSON"), `tags verdict: ${text("ed-tags")}`);
    [...document.querySelectorAll("#ed-tags-status button")].find((b) => b.textContent === "Discard draft").click();
    eq(tags.state.doc.toString(), '{"site":"server"}', "discarded draft");
    eq(localStorage.getItem("hubdesk:draft:twin:dev1:tags"), null, "discarded draft removed");
    expect(!text("ed-tags").includes("draft"), "notice gone");

    // A draft of an older version is offered, not applied.
    eq(desired.state.doc.toString(), '{"rate":1}', "older draft not applied");
    expect(text("ed-desired").includes("based on an older version"), `desired notice: ${text("ed-desired")}`);
    [...document.querySelectorAll("#ed-desired-status button")].find((b) => b.textContent === "Restore it").click();
    eq(desired.state.doc.toString(), '{\n  "rate": 99\n}', "older draft restored on request");
    eq(new FormData($("form")).get("desired"), '{\n  "rate": 99\n}', "form posts the restored draft");
    eq(draft("hubdesk:draft:twin:dev1:desired").baseEtag, "AAAAAAAAAAI=", "draft now records the page's etag");

    // Edits: kept in the textarea, saved as a draft, checked by the hub's rules.
    tags.dispatch({ changes: { from: 0, to: tags.state.doc.length, insert: '{"a.b":1,"c":[null]}' } });
    eq($("#ed-tags").value, '{"a.b":1,"c":[null]}', "textarea in sync");
    eq(draft("hubdesk:draft:twin:dev1:tags").value, '{"a.b":1,"c":[null]}', "draft saved");
    await sleep(500);
    expect(text("ed-tags").startsWith("2 problems: tags.a.b: Property or Tag name has invalid characters"), `tags verdict: ${text("ed-tags")}`);
    expect(shadowOf("ed-tags").querySelectorAll(".cm-lintRange-error").length >= 2, "problems marked inline");
    tags.dispatch({ changes: { from: 0, to: tags.state.doc.length, insert: '{"a":' } });
    await sleep(500);
    expect(text("ed-tags").startsWith("1 problem: tags: Not valid JSON: line 1, column 6: unexpected end of JSON input."), `tags verdict: ${text("ed-tags")}`);
    tags.dispatch({ changes: { from: 0, to: tags.state.doc.length, insert: '{"site":"server"}' } });
    eq(localStorage.getItem("hubdesk:draft:twin:dev1:tags"), null, "back to the server's value: no draft");

    // Read-only: no edits, no drafts, no verdict.
    expect(reported.state.readOnly, "reported is read-only");
    eq(text("ed-reported"), "", "no verdict for read-only");
    eq(localStorage.getItem("hubdesk:draft:twin:dev1:reported"), null, "no draft for read-only");

    // The form field is current at submit time even if set behind our back.
    $("form").addEventListener("submit", (e) => e.preventDefault());
    $("#ed-desired").value = "stale";
    $("form").requestSubmit();
    eq($("#ed-desired").value, '{\n  "rate": 99\n}', "textarea set on submit");

    eq(window.cspViolations.join("; "), "", "CSP violations");
  }

  const done = () => {
    const pre = document.createElement("pre");
    pre.id = "result";
    pre.textContent = JSON.stringify({ failures });
    document.body.append(pre);
  };
  run().catch((e) => failures.push(`exception: ${e && e.stack || e}`)).then(done);
})();
