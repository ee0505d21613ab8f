// Tests of static/files/validate.js, with cases mirrored from
// hub/validate_test.go: when a case changes there, change it here.
// Run with: node --test static/jstest/
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { validateSection, nameProblem, utf8Size, summary } = require("../files/validate.js");

// levels is a section with n levels of objects {"a": ...} below it, the
// last holding leaf.
const levels = (n, leaf) => '{"a":'.repeat(n + 1) + leaf + "}".repeat(n + 1);
// nestArrays wraps leaf in n arrays.
const nestArrays = (n, leaf) => "[".repeat(n) + leaf + "]".repeat(n);
// members makes an object of n members k0..k{n-1} whose string values are
// each sized so that the object's size is total.
function members(n, total) {
  const parts = [];
  let left = total;
  for (let i = 0; i < n; i++) {
    const key = `k${i}`;
    let v = Math.floor((left - key.length) / (n - i));
    if (i === n - 1) v = left - key.length;
    left -= key.length + v;
    parts.push(`${JSON.stringify(key)}:${JSON.stringify("x".repeat(v))}`);
  }
  return "{" + parts.join(",") + "}";
}
const obj = (k, v) => `{${JSON.stringify(k)}:${v}}`;
const str = (s) => JSON.stringify(s);
const nameMsg = (name) => "Property or Tag name has invalid characters. Error in Property/Tag " + name +
  ". Must not contain Control Characters, '.', '$', '#', or ' '.";

// [name, section, doc, path ("" means valid), message (checked when set)]
const rules = [
  ["empty", "tags", `{}`, "", ""],
  ["plain values", "desired", `{"s":"x","n":1.5,"b":false,"o":{"p":[1,"a",true,{"q":2}]}}`, "", ""],
  ["non-ASCII name", "tags", `{"Größe":1}`, "", ""],
  ["empty name", "tags", `{"":1}`, "", ""],

  ["dot", "tags", `{"a.b":1}`, "tags.a.b", nameMsg("a.b")],
  ["dollar", "desired", `{"$x":1}`, "desired.$x", nameMsg("$x")],
  ["hash", "reported", `{"a#":1}`, "reported.a#", nameMsg("a#")],
  ["space", "tags", `{"a b":1}`, "tags.a b", nameMsg("a b")],
  ["NUL", "tags", String.raw`{"a\u0000":1}`, "tags.a\x00", ""],
  ["C0 unit separator", "tags", String.raw`{"a\u001f":1}`, "tags.a\x1f", ""],
  ["tab", "tags", String.raw`{"a\tb":1}`, "tags.a\tb", ""],
  ["DEL", "tags", String.raw`{"a\u007f":1}`, "tags.a\x7f", ""],
  ["C1 NEL U+0085", "tags", String.raw`{"a\u0085":1}`, "tags.a\u0085", ""],
  ["C1 U+009F", "tags", String.raw`{"a\u009f":1}`, "tags.a\u009f", ""],
  ["U+00A0 is not a control", "tags", String.raw`{"a\u00a0":1}`, "", ""],
  ["nested bad name", "desired", `{"a":{"b":{"c.d":1}}}`, "desired.a.b.c.d", ""],
  ["bad name in array object", "desired", `{"a":[0,{"$b":1}]}`, "desired.a[1].$b", ""],
  ["name 1024 bytes", "tags", obj("n".repeat(1024), "1"), "", ""],
  ["name 1025 bytes", "tags", obj("n".repeat(1025), "1"), "tags." + "n".repeat(1025), ""],
  ["name 1024 bytes of é", "tags", obj("é".repeat(512), "1"), "", ""],
  ["name 1025 bytes of é", "tags", obj("é".repeat(512) + "n", "1"), "tags." + "é".repeat(512) + "n", ""],

  ["top $metadata and $version skipped in desired", "desired",
    `{"a":1,"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z","a":{"$lastUpdated":"x"}},"$version":7}`, "", ""],
  ["top $metadata and $version skipped in reported", "reported", `{"$metadata":{},"$version":1}`, "", ""],
  ["$version is a name in tags", "tags", `{"$version":1}`, "tags.$version", ""],
  ["nested $metadata is a name", "desired", `{"a":{"$metadata":{}}}`, "desired.a.$metadata", ""],

  ["string 4096 bytes", "tags", obj("s", str("x".repeat(4096))), "", ""],
  ["string 4097 bytes", "tags", obj("s", str("x".repeat(4097))), "tags.s", "String value is too long: 4097 bytes, at most 4096."],
  ["string 4096 bytes of é", "tags", obj("s", str("é".repeat(2048))), "", ""],
  ["string 4097 bytes of é", "tags", obj("s", str("é".repeat(2048) + "x")), "tags.s", ""],
  ["string 4096 bytes of € and x", "tags", obj("s", str("€".repeat(1365) + "x")), "", ""],
  ["escaped é counts decoded bytes", "tags", obj("s", '"' + String.raw`\u00e9`.repeat(2048) + '"'), "", ""],
  ["escaped é over", "tags", obj("s", '"' + String.raw`\u00e9`.repeat(2049) + '"'), "tags.s", ""],
  ["long string in array", "tags", obj("s", "[" + str("x".repeat(4097)) + "]"), "tags.s[0]", ""],

  ["max integer", "desired", `{"i":4503599627370495}`, "", ""],
  ["max integer + 1", "desired", `{"i":4503599627370496}`, "desired.i",
    "Integer value 4503599627370496 is out of range: integers must be within +/-4503599627370495."],
  ["min integer", "desired", `{"i":-4503599627370495}`, "", ""],
  ["min integer - 1", "desired", `{"i":-4503599627370496}`, "desired.i", ""],
  ["beyond int64", "desired", `{"i":99999999999999999999}`, "desired.i", ""],
  ["big integer in array", "desired", `{"i":[1,-4503599627370496]}`, "desired.i[1]", ""],
  ["float 1e300", "desired", `{"f":1e300}`, "", ""],
  ["float -1E300", "desired", `{"f":-1E300}`, "", ""],
  ["float with fraction beyond range", "desired", `{"f":4503599627370496.5}`, "", ""],
  ["float written .0", "desired", `{"f":4503599627370496.0}`, "", ""],
  ["negative zero", "desired", `{"f":-0}`, "", ""],

  ["null member", "desired", `{"a":null,"b":{"c":null}}`, "", ""],
  ["null in array", "desired", `{"a":[1,null]}`, "desired.a[1]", "Arrays may not contain null."],
  ["null in nested array", "desired", `{"a":[[null]]}`, "desired.a[0][0]", ""],
  ["null member of object in array", "desired", `{"a":[{"b":null}]}`, "desired.a[0].b", ""],

  ["10 levels of objects", "desired", levels(10, "1"), "", ""],
  ["10 levels, the last empty", "desired", levels(9, "{}"), "", ""],
  ["11 levels of objects", "desired", levels(11, "1"), "desired" + ".a".repeat(11),
    "Nesting is too deep: at most 10 levels of objects and arrays under desired."],
  ["11th level empty object", "tags", levels(10, "{}"), "tags" + ".a".repeat(11), ""],
  ["9 objects then an array", "desired", levels(9, "[1,2]"), "", ""],
  ["10 objects then an array", "desired", levels(10, "[1,2]"), "desired" + ".a".repeat(11), ""],
  ["8 objects, array, object", "desired", levels(8, `[{"b":1}]`), "", ""],
  ["9 objects, array, object", "desired", levels(9, "[{}]"), "desired" + ".a".repeat(10) + "[0]", ""],
  ["10 arrays", "tags", obj("a", nestArrays(10, "1")), "", ""],
  ["11 arrays", "tags", obj("a", nestArrays(11, "1")), "tags.a" + "[0]".repeat(10), ""],

  ["not an object: array", "tags", `[1]`, "tags", "The tags section must be a JSON object."],
  ["not an object: number", "desired", `5`, "desired", ""],
  ["not an object: null", "desired", `null`, "desired", ""],
];

test("rules (hub TestValidateRules)", async (t) => {
  for (const [name, section, doc, path, message] of rules) {
    await t.test(name, () => {
      const { problems } = validateSection(section, doc);
      if (path === "") {
        assert.deepEqual(problems, []);
        return;
      }
      assert.ok(problems.length > 0, `want a problem at ${path}`);
      const p = problems[0];
      assert.equal(p.syntax, undefined, `got a syntax error: ${p.message}`);
      assert.equal(p.path, path);
      if (message) assert.equal(p.message, message);
      assert.ok(p.from >= 0 && p.from < p.to && p.to <= doc.length, `range ${p.from}-${p.to}`);
    });
  }
});

// [name, section, doc, size, tooLarge]
const meta = `"$metadata":{"$lastUpdated":"2024-01-01T00:00:00Z","$lastUpdatedVersion":3},"$version":3`;
const sizes = [
  ["tags 8192", "tags", members(2, 8192), 8192, false],
  ["tags 8193", "tags", members(3, 8193), 8193, true],
  ["desired 32768", "desired", members(8, 32768), 32768, false],
  ["desired 32769", "desired", members(9, 32769), 32769, true],
  ["reported 32768 with metadata not counted", "reported", members(8, 32768).replace(/}$/, "") + "," + meta + "}", 32768, false],
  ["reported 32769", "reported", members(9, 32769), 32769, true],
  ["number counts 8", "tags", `{"a":1}`, 9, false],
  ["big float counts 8", "tags", `{"a":1.7976931348623157e308}`, 9, false],
  ["boolean counts 4", "tags", `{"ab":true}`, 6, false],
  ["null counts nothing", "tags", `{"ab":null}`, 2, false],
  ["objects count their members", "tags", `{"a":{"b":{"c":"de"}}}`, 5, false],
  ["arrays count their elements", "tags", `{"a":[1,"xy",false,{"b":"c"},[]]}`, 1 + 8 + 2 + 4 + 2, false],
  ["strings count decoded UTF-8", "tags", String.raw`{"é":"\u20ac"}`, 2 + 3, false],
  ["empty", "desired", `{}`, 0, false],
  ["escaped quote in a name", "tags", String.raw`{"a\"":"\\\\"}`, 2 + 2, false],
  ["quote after an escaped backslash ends a string", "tags", String.raw`{"k":"\\","l":"x"}`, 2 + 2, false],
  ["escaped quotes and backslashes", "tags", String.raw`{"k":"\"\\\""}`, 1 + 3, false],
  ["escapes in skipped metadata", "desired", String.raw`{"$metadata":{"x\"}":"]\\"},"k":1}`, 9, false],
];

test("section size (hub TestValidateSectionSize)", async (t) => {
  for (const [name, section, doc, size, tooLarge] of sizes) {
    await t.test(name, () => {
      const got = validateSection(section, doc);
      assert.equal(got.size, size);
      if (!tooLarge) {
        assert.deepEqual(got.problems, []);
        return;
      }
      assert.equal(got.problems.length, 1);
      assert.equal(got.problems[0].path, section);
      assert.match(got.problems[0].message, new RegExp(`^The ${section} section is too large: ${size} bytes, at most \\d+\\.$`));
    });
  }
});

test("format errors (hub TestValidateFormatErrors)", async (t) => {
  const docs = [``, ` `, `{`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"a":1}x`, `{"a":1}{}`,
    `{"a":1} 2`, `[1}`, `"x" y`, `{'a':1}`, `{"a":tru}`, '{"a":"\x01"}',
    // Beyond the Go table: grammar corners JSON.parse would also refuse.
    `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, String.raw`{"a":"\x"}`, String.raw`{"a":"\u12"}`, `{"a":"x`];
  for (const doc of docs) {
    await t.test(JSON.stringify(doc), () => {
      const { problems } = validateSection("desired", doc);
      assert.equal(problems.length, 1);
      assert.equal(problems[0].syntax, true);
      assert.match(problems[0].message, /^Not valid JSON: line \d+, column \d+: /);
      assert.throws(() => JSON.parse(doc));
    });
  }
});

test("syntax error position", () => {
  const doc = '{\n  "a": 1,\n  "b": }';
  const [p] = validateSection("tags", doc).problems;
  assert.equal(p.message, "Not valid JSON: line 3, column 8: invalid character '}' looking for beginning of value.");
  assert.equal(p.from, doc.indexOf("}", 5));
});

test("all problems, first the one the hub reports", () => {
  const doc = `{"a.b":1,"c":[null],"d":"${"x".repeat(9000)}"}`;
  const got = validateSection("tags", doc).problems.map((p) => p.path);
  assert.deepEqual(got, ["tags.a.b", "tags.c[0]", "tags.d", "tags"]);
  assert.match(summary(validateSection("tags", doc).problems), /^4 problems: tags\.a\.b: Property or Tag name has invalid characters/);
  assert.equal(summary([]), "Valid JSON");
});

test("names (hub TestValidateName)", () => {
  const cases = [["temperature", true], ["ä", true], ["a.b", false], ["$a", false], ["#", false], [" ", false],
    ["\u0085", false], ["\x00", false], ["x".repeat(1024), true], ["x".repeat(1025), false]];
  for (const [name, ok] of cases) assert.equal(nameProblem(name) === "", ok, JSON.stringify(name));
});

test("UTF-8 size", () => {
  for (const [s, n] of [["", 0], ["a", 1], ["é", 2], ["€", 3], ["😀", 4], ["\ud800", 3], ["\udc00x", 4]]) {
    assert.equal(utf8Size(s), n, JSON.stringify(s));
  }
});

test("unknown section", () => {
  assert.throws(() => validateSection("properties", `{}`));
});
