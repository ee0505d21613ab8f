// hubdesk: turns each textarea[data-json-editor] into a CodeMirror JSON
// editor with the hub's rules checked as you type and drafts kept in
// localStorage. Load after vendor/codemirror.min.js and validate.js. The
// textarea stays in the form, hidden and kept in sync, so the page works the
// same (minus the comforts) when this script does not run.
(function () {
  "use strict";
  const CM = window.HubdeskCodeMirror;
  const rules = window.hubdeskValidate;
  if (!CM || !rules) return;

  // store wraps localStorage, which may be disabled or full: drafts are a
  // comfort, never a reason to break the editor.
  const store = {
    get(key) {
      try {
        const d = JSON.parse(localStorage.getItem(key));
        return d && typeof d.value === "string" ? d : null;
      } catch {
        return null;
      }
    },
    set(key, draft) {
      try {
        localStorage.setItem(key, JSON.stringify(draft));
      } catch {
        // Out of quota or disabled: carry on without a draft.
      }
    },
    remove(key) {
      try {
        localStorage.removeItem(key);
      } catch {
        // As above.
      }
    },
  };

  const dark = window.matchMedia("(prefers-color-scheme: dark)");

  // el makes an element with a class and children.
  function el(tag, className, ...children) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    e.append(...children);
    return e;
  }

  function button(text, onClick) {
    const b = el("button", "link", text);
    b.type = "button"; // never submits the form
    b.addEventListener("click", onClick);
    return b;
  }

  function timeOf(iso) {
    const t = el("time", "", new Date(iso).toLocaleString());
    t.dateTime = iso;
    return t;
  }

  // enhance replaces one textarea with an editor.
  function enhance(ta) {
    const section = ta.dataset.section;
    const readOnly = ta.hasAttribute("data-readonly");
    const draftKey = readOnly ? "" : ta.dataset.draftKey || "";
    const baseEtag = ta.dataset.baseEtag || "";
    const serverValue = ta.defaultValue; // what the server rendered
    const label = ta.labels && ta.labels[0];

    const status = document.getElementById(ta.id + "-status") || el("p", "editor-status");
    const verdict = el("span", "editor-verdict");
    const notice = el("span", "editor-notice");
    status.replaceChildren(verdict, notice);

    const draft = draftKey ? store.get(draftKey) : null;
    let doc = serverValue;
    let offer = null; // a draft of an older version, offered but not applied
    if (draft && draft.value !== serverValue) {
      if (draft.baseEtag === baseEtag) doc = draft.value;
      else offer = draft;
    } else if (draft) {
      store.remove(draftKey); // identical to what the server has
    }

    const theme = new CM.Compartment();
    const extensions = [
      CM.lineNumbers(),
      CM.foldGutter(),
      CM.highlightActiveLineGutter(),
      CM.highlightSpecialChars(),
      CM.history(),
      CM.drawSelection(),
      CM.indentOnInput(),
      CM.syntaxHighlighting(CM.classHighlighter),
      CM.bracketMatching(),
      CM.closeBrackets(),
      CM.highlightActiveLine(),
      CM.json(),
      // Tab indents; Escape then Tab moves focus on (CodeMirror's own rule).
      CM.keymap.of([
        ...CM.closeBracketsKeymap, ...CM.defaultKeymap, ...CM.historyKeymap,
        ...CM.foldKeymap, ...CM.lintKeymap, CM.indentWithTab,
      ]),
      theme.of(CM.EditorView.darkTheme.of(dark.matches)),
      CM.EditorView.contentAttributes.of({
        "aria-label": label ? label.textContent.trim() : `${section} (JSON)`,
        // Not the status line: an id cannot reach out of the shadow root.
        // That line is aria-live, so its changes are announced anyway.
        ...(readOnly ? {} : { "aria-describedby": "hint" }),
        ...(readOnly ? { "aria-readonly": "true" } : {}),
      }),
      CM.EditorView.updateListener.of((u) => {
        if (u.docChanged) changed(u.state.doc.toString());
      }),
    ];
    if (readOnly) {
      extensions.push(CM.EditorState.readOnly.of(true));
    } else {
      extensions.push(CM.linter(check, { delay: 200 }), CM.lintGutter());
    }

    // CodeMirror brings its styles to a document as an inline <style>,
    // which hubdesk's CSP (style-src 'self') refuses; to a shadow root it
    // adopts a constructed style sheet, which CSP does not govern. So each
    // editor lives in a shadow root, given the page's own style sheets
    // (cached, so no request) for the /* editor */ rules of style.css.
    const host = el("div", "json-editor-host");
    const shadow = host.attachShadow({ mode: "open" });
    for (const link of document.querySelectorAll('link[rel="stylesheet"]')) shadow.append(link.cloneNode());
    const box = el("div", "json-editor");
    shadow.append(box);
    ta.after(host);
    ta.hidden = true;
    ta.value = doc;
    const view = new CM.EditorView({ state: CM.EditorState.create({ doc, extensions }), parent: box, root: shadow });
    if (!readOnly) {
      const hint = el("p", "editor-hint", "Tab indents. Press Esc, then Tab, to move on.");
      hint.id = "hint"; // unique within its shadow root
      box.append(hint);
    }

    dark.addEventListener("change", () =>
      view.dispatch({ effects: theme.reconfigure(CM.EditorView.darkTheme.of(dark.matches)) }));
    // The label points at the hidden textarea; send its clicks to the editor.
    if (label) label.addEventListener("click", () => view.focus());
    if (ta.form) ta.form.addEventListener("submit", () => { ta.value = view.state.doc.toString(); });

    if (doc !== serverValue) {
      showNotice("Restored your unsaved draft from ", timeOf(draft.savedAt), " \u2013 ",
        button("Discard draft", () => {
          store.remove(draftKey);
          setDoc(serverValue);
          clearNotice();
        }));
    } else if (offer) {
      showNotice("You have an unsaved draft from ", timeOf(offer.savedAt), " based on an older version \u2013 ",
        button("Restore it", () => {
          setDoc(offer.value);
          clearNotice();
        }), " / ",
        button("Discard", () => {
          // Only the offered draft: edits made since are a newer one.
          const now = store.get(draftKey);
          if (now && now.savedAt === offer.savedAt) store.remove(draftKey);
          clearNotice();
        }));
    }

    // changed keeps the form field and the draft up to date.
    function changed(value) {
      ta.value = value;
      if (!draftKey) return;
      if (value === serverValue) store.remove(draftKey);
      else store.set(draftKey, { value, baseEtag, savedAt: new Date().toISOString() });
    }

    // check is the lint source: the hub's rules, also summed up in the
    // status line.
    function check(v) {
      const { problems } = rules.validateSection(section, v.state.doc.toString());
      verdict.textContent = rules.summary(problems);
      verdict.className = "editor-verdict " + (problems.length ? "bad" : "ok");
      return problems.map((p) => ({ from: p.from, to: p.to, severity: "error", message: rules.problemText(p) }));
    }

    function setDoc(value) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
    }

    function showNotice(...parts) {
      notice.replaceChildren(...parts);
    }

    function clearNotice() {
      notice.replaceChildren();
      view.focus(); // the button that had focus is gone
    }
  }

  function start() {
    // The server lists the drafts a successful save has made obsolete.
    for (const e of document.querySelectorAll("[data-draft-clear]")) {
      for (const key of e.getAttribute("data-draft-clear").split(/\s+/)) {
        if (key) store.remove(key);
      }
    }
    for (const ta of document.querySelectorAll("textarea[data-json-editor]")) enhance(ta);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
