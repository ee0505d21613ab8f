// The CodeMirror 6 pieces hubdesk's twin editor uses, bundled into one
// IIFE that sets window.HubdeskCodeMirror. The glue that builds editors out
// of them is static/files/editor.js, kept readable and unbundled.
//
// @codemirror/search is left out: it adds 7 KB gzipped for a find panel
// that sections of at most 32 KB seldom need.
import { EditorState, Compartment } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection,
} from "@codemirror/view";
import { history, defaultKeymap, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  syntaxHighlighting, bracketMatching, foldGutter, foldKeymap, indentOnInput,
} from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { json } from "@codemirror/lang-json";
import { linter, lintGutter, lintKeymap } from "@codemirror/lint";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";

window.HubdeskCodeMirror = {
  EditorState, Compartment,
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection,
  history, defaultKeymap, historyKeymap, indentWithTab,
  syntaxHighlighting, classHighlighter, bracketMatching, foldGutter, foldKeymap, indentOnInput,
  json,
  linter, lintGutter, lintKeymap,
  closeBrackets, closeBracketsKeymap,
};
