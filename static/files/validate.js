// hubdesk: the IoT Hub's rules for twin tags and desired properties, the
// same as hub/validate.go (ValidateSection), so that the twin editor can
// show problems while they are typed. The server checks again on save; this
// only saves a round trip, so when the two disagree, hub/validate.go wins.
//
// It parses the text itself rather than with JSON.parse, because it needs
// the position of every name and value, and because JSON.parse rounds
// integers beyond 2^53 before they could be checked.
//
// Loaded as a classic script it sets window.hubdeskValidate; under node it
// is a CommonJS module (static/jstest/validate.test.js).
(function (root) {
  "use strict";

  const MAX_DEPTH = 10;
  const MAX_STRING_SIZE = 4096;
  const MAX_NAME_SIZE = 1024;
  const MAX_SAFE_INTEGER = "4503599627370495"; // 2^52-1, compared as digits
  const MAX_SIZE = { tags: 8192, desired: 32768, reported: 32768 };
  // encoding/json refuses to nest deeper than this; so do we, before the
  // recursion could exhaust the stack.
  const MAX_NESTING = 10000;

  // Control characters (C0, DEL, C1), '.', '$', '#' and space: as
  // forbiddenInName in hub/validate.go.
  const FORBIDDEN_IN_NAME = /[\u0000-\u001f\u007f-\u009f.$# ]/;
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

  // utf8Size is the UTF-8 length of s as Go would store it: a lone
  // surrogate becomes U+FFFD, three bytes.
  function utf8Size(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
        s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }

  // nameProblem explains why the hub rejects a property or tag name, or is
  // "" if it does not.
  function nameProblem(name) {
    const n = utf8Size(name);
    if (n > MAX_NAME_SIZE) {
      return `Property or Tag name is too long: ${n} bytes, at most ${MAX_NAME_SIZE}.`;
    }
    if (FORBIDDEN_IN_NAME.test(name)) {
      return "Property or Tag name has invalid characters. Error in Property/Tag " + name +
        ". Must not contain Control Characters, '.', '$', '#', or ' '.";
    }
    return "";
  }

  // safeNumber reports whether the JSON number text n is a float or an
  // integer within +/-MAX_SAFE_INTEGER (valid JSON has no leading zeros).
  function safeNumber(n) {
    if (/[.eE]/.test(n)) return true;
    const digits = n.replace(/^-/, "");
    return digits.length < MAX_SAFE_INTEGER.length ||
      digits.length === MAX_SAFE_INTEGER.length && digits <= MAX_SAFE_INTEGER;
  }

  // quoteChar names a character in a syntax error, as encoding/json does.
  function quoteChar(c) {
    if (c === "'") return "'\\''";
    if (c === '"') return "'\"'";
    const q = JSON.stringify(c);
    return "'" + q.slice(1, -1) + "'";
  }

  // SyntaxProblem stops the walk at the first syntax error.
  class SyntaxProblem extends Error {
    constructor(pos, message) {
      super(message);
      this.pos = pos;
    }
  }

  // validateSection checks text, the whole JSON of a twin section ("tags",
  // "desired" or "reported"), and returns its problems in document order
  // and its size as hub.SectionSize counts it. A problem is {path, message,
  // from, to}: from and to are offsets into text (UTF-16 code units, as in
  // the editor). A syntax error is the only problem when there is one; the
  // first problem otherwise is the one hub.ValidateSection reports, and the
  // size limit comes last.
  function validateSection(section, text) {
    const maxSize = MAX_SIZE[section];
    if (!maxSize) throw new Error(`unknown twin section ${JSON.stringify(section)}`);
    const problems = [];
    let size = 0;
    let i = 0;

    const fail = (msg) => {
      throw new SyntaxProblem(i, i < text.length ? `invalid character ${quoteChar(text[i])} ${msg}` : "unexpected end of JSON input");
    };
    const add = (path, message, from, to) => problems.push({ path, message, from, to });
    const space = () => {
      while (i < text.length && " \t\n\r".includes(text[i])) i++;
    };

    // str reads a string at i and returns its decoded value.
    const str = () => {
      i++; // the opening quote
      let out = "";
      let start = i;
      for (;;) {
        if (i >= text.length) fail("");
        const c = text.charCodeAt(i);
        if (c === 0x22) break;
        if (c < 0x20) fail("in string literal");
        if (c !== 0x5c) {
          i++;
          continue;
        }
        out += text.slice(start, i);
        i++;
        if (i >= text.length) fail("");
        const e = text[i];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }[e];
        if (simple !== undefined) {
          out += simple;
          i++;
        } else if (e === "u") {
          i++;
          for (let k = 0; k < 4; k++, i++) {
            if (i >= text.length) fail("");
            if (!/[0-9a-fA-F]/.test(text[i])) fail("in \\u hexadecimal character escape");
          }
          out += String.fromCharCode(parseInt(text.slice(i - 4, i), 16));
        } else fail("in string escape code");
        start = i;
      }
      out += text.slice(start, i);
      i++; // the closing quote
      return out.replace(LONE_SURROGATE, "\ufffd");
    };

    // num reads a number at i and returns its text.
    const num = () => {
      const start = i;
      if (text[i] === "-") i++;
      if (text[i] === "0") i++;
      else if (text[i] >= "1" && text[i] <= "9") while (text[i] >= "0" && text[i] <= "9") i++;
      else fail("in numeric literal");
      if (text[i] === ".") {
        i++;
        if (!(text[i] >= "0" && text[i] <= "9")) fail("after decimal point in numeric literal");
        while (text[i] >= "0" && text[i] <= "9") i++;
      }
      if (text[i] === "e" || text[i] === "E") {
        i++;
        if (text[i] === "+" || text[i] === "-") i++;
        if (!(text[i] >= "0" && text[i] <= "9")) fail("in exponent of numeric literal");
        while (text[i] >= "0" && text[i] <= "9") i++;
      }
      return text.slice(start, i);
    };

    const literal = (word) => {
      for (const ch of word) {
        if (text[i] !== ch) fail(`in literal ${word} (expecting ${quoteChar(ch)})`);
        i++;
      }
    };

    // value walks one value at depth levels below the section. ctx.check
    // applies the rules, ctx.count adds to the size, ctx.inArray says the
    // value is inside an array, where null may not appear.
    const value = (depth, path, ctx) => {
      space();
      const from = i;
      const c = text[i];
      if (c === "{" || c === "[") {
        if (depth >= MAX_NESTING) fail("exceeded max depth");
        if (ctx.check && depth + 1 > MAX_DEPTH) {
          // Like the server, say nothing about what is inside.
          container(c, depth + 1, path, { ...ctx, check: false });
          add(path, `Nesting is too deep: at most ${MAX_DEPTH} levels of objects and arrays under ${section}.`, from, i);
          return;
        }
        container(c, depth + 1, path, ctx);
      } else if (c === '"') {
        const s = str();
        const n = utf8Size(s);
        if (ctx.check && n > MAX_STRING_SIZE) add(path, `String value is too long: ${n} bytes, at most ${MAX_STRING_SIZE}.`, from, i);
        if (ctx.count) size += n;
      } else if (c === "t" || c === "f") {
        literal(c === "t" ? "true" : "false");
        if (ctx.count) size += 4;
      } else if (c === "n") {
        literal("null");
        if (ctx.check && ctx.inArray) add(path, "Arrays may not contain null.", from, i);
      } else if (c === "-" || c >= "0" && c <= "9") {
        const n = num();
        if (ctx.check && !safeNumber(n)) {
          add(path, `Integer value ${n} is out of range: integers must be within +/-${MAX_SAFE_INTEGER}.`, from, i);
        }
        if (ctx.count) size += 8;
      } else fail("looking for beginning of value");
    };

    // container walks an object or array whose opening bracket is at i.
    const container = (open, depth, path, ctx, skipMeta) => {
      i++;
      space();
      const close = open === "{" ? "}" : "]";
      if (text[i] === close) {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        if (open === "[") {
          value(depth, `${path}[${n}]`, { ...ctx, inArray: true });
        } else {
          space();
          if (text[i] !== '"') fail("looking for beginning of object key string");
          const from = i;
          const name = str();
          const to = i;
          space();
          if (text[i] !== ":") fail("after object key");
          i++;
          if (skipMeta && (name === "$metadata" || name === "$version")) {
            value(depth, "", { check: false, count: false, inArray: false });
          } else {
            const p = path + "." + name;
            const msg = ctx.check ? nameProblem(name) : "";
            if (msg) add(p, msg, from, to);
            if (ctx.count) size += utf8Size(name);
            value(depth, p, ctx);
          }
        }
        space();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        fail(open === "{" ? "after object key:value pair" : "after array element");
      }
    };

    try {
      space();
      const from = i;
      if (text[i] === "{") {
        container("{", 0, section, { check: true, count: true, inArray: false }, section !== "tags");
      } else {
        value(0, section, { check: false, count: false, inArray: false });
        add(section, `The ${section} section must be a JSON object.`, from, i);
      }
      space();
      if (i < text.length) fail("after top-level value");
      if (size > maxSize) {
        add(section, `The ${section} section is too large: ${size} bytes, at most ${maxSize}.`, from, from + 1);
      }
    } catch (e) {
      if (!(e instanceof SyntaxProblem)) throw e;
      const { line, column } = lineColumn(text, e.pos);
      const to = Math.min(e.pos + 1, text.length);
      return {
        problems: [{ path: section, message: `Not valid JSON: line ${line}, column ${column}: ${e.message}.`, from: e.pos, to, syntax: true }],
        size: 0,
      };
    }
    return { problems, size };
  }

  // lineColumn turns an offset into a 1-based line and column.
  function lineColumn(text, pos) {
    let line = 1;
    let start = 0;
    for (let k = text.indexOf("\n"); k >= 0 && k < pos; k = text.indexOf("\n", k + 1)) {
      line++;
      start = k + 1;
    }
    return { line, column: pos - start + 1 };
  }

  // problemText is one problem as the editor's status line shows it.
  function problemText(p) {
    return `${p.path}: ${p.message}`;
  }

  // summary is the status line for a list of problems.
  function summary(problems) {
    if (problems.length === 0) return "Valid JSON";
    const n = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    return `${n}: ${problemText(problems[0])}`;
  }

  const api = { validateSection, nameProblem, utf8Size, problemText, summary };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.hubdeskValidate = api;
})(this);
