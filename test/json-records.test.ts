import { describe, expect, it } from 'vitest';
import { JsonSplitter, type JsonText } from '../src/etl/read/json-records.js';

/** Splits `text` fed in chunks of `size` characters; fed whole, checks that line by line gives the same. */
function split(text: string, size = text.length): JsonText[] {
  const s = new JsonSplitter();
  const out: JsonText[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
  const result = [...out, ...s.end()];
  if (size === text.length) {
    expect(splitLines(text), 'line by line').toEqual(result);
    expect(splitWhole(text), 'whole').toEqual(result);
  }
  return result;
}

/**
 * Splits `text` by split(), as a small file is read, and checks that a value it parsed is the value
 * of its text; returns the records with a value only where push and end would give one.
 */
function splitWhole(text: string): JsonText[] {
  const s = new JsonSplitter();
  const whole = s.split(text);
  for (const r of whole) if (r.value !== undefined) expect(r.value, r.text).toEqual(JSON.parse(r.text));
  // push and end leave a value scanned across lines unparsed (validateRecord parses it).
  return whole.map(({ value, ...r }) => (value !== undefined && r.text.includes('\n') ? r : { value, ...r }));
}

/** Splits `text` as the file reader feeds it: each line by pushLine, the text after the last newline by push. */
function splitLines(text: string): JsonText[] {
  const s = new JsonSplitter();
  const lines = text.split('\n');
  const last = lines.pop()!;
  const out: JsonText[] = [];
  for (const line of lines) s.pushLine(line, out);
  return [...out, ...s.push(last), ...s.end()];
}

/** Splits `chunks` fed one after another. */
function splitChunks(chunks: string[]): JsonText[] {
  const s = new JsonSplitter();
  return [...chunks.flatMap((chunk) => s.push(chunk)), ...s.end()];
}

/**
 * Splits `text` whole, and checks that every chunking gives the same: cut in two at each index, one
 * character at a time, and one at a time with empty chunks between (as a stream may deliver them).
 */
function splitEveryWay(text: string): JsonText[] {
  const whole = split(text);
  for (let i = 0; i <= text.length; i++) expect(splitChunks([text.slice(0, i), text.slice(i)]), `cut at ${i}`).toEqual(whole);
  expect(splitChunks([...text]), 'one character at a time').toEqual(whole);
  expect(splitChunks([...text].flatMap((c) => ['', c, ''])), 'with empty chunks').toEqual(whole);
  return whole;
}

describe('JsonSplitter', () => {
  it('reads one object per line with the line each starts on', () => {
    const out = split('{"a":1}\n{"a":2}\n\n{"a":3}\n');
    expect(out.map((r) => [JSON.parse(r.text).a, r.line])).toEqual([[1, 1], [2, 2], [3, 4]]);
  });

  it('reads pretty-printed objects spanning lines, and objects back to back on one line', () => {
    const out = split('{\n  "a": 1,\n  "b": [1, {"c": 2}]\n}\n{"a":2}{"a":3} {"a":4}');
    expect(out.map((r) => JSON.parse(r.text).a)).toEqual([1, 2, 3, 4]);
    expect(out.map((r) => r.line)).toEqual([1, 5, 5, 5]);
  });

  it('ignores braces and escaped quotes inside strings', () => {
    const text = '{"s":"}{ \\" ]["}\n{"s":"\\\\"}';
    expect(split(text).map((r) => JSON.parse(r.text).s)).toEqual(['}{ " ][', '\\']);
  });

  it('gives the same records whatever the chunk boundaries', () => {
    const text = '\uFEFF{"a":"x\\"y",\r\n "b":{"c":[1,2]}}\r\n{"a":"é}"}\r\n  {"a":3}';
    const whole = split(text);
    for (const size of [1, 2, 3, 7, 13]) expect(split(text, size)).toEqual(whole);
    expect(whole).toHaveLength(3);
  });

  it('accepts a byte-order mark, CRLF line endings and an empty input', () => {
    expect(split('\uFEFF{"a":1}\r\n{"a":2}\r\n').map((r) => r.line)).toEqual([1, 2]);
    expect(split('')).toEqual([]);
    expect(split('\n\n  \r\n')).toEqual([]);
  });

  it('returns a record cut off at the end of the file with a problem', () => {
    const out = split('{"a":1}\n{"a":2,\n "b":');
    expect(out[1]).toMatchObject({ line: 2, problem: expect.stringMatching(/cut off/) });
  });

  it('ends a truncated record where the next line starts a whole object, so the rest of the file still loads', () => {
    for (const text of ['{"a":1}\n{"a":2, "b": "tru\n{"a":3}\n{"a":4}\n', '{"a":1}\n{"a":2, "b": {"c": 1\n{"a":3}\n{"a":4}']) {
      const whole = split(text);
      expect(whole.map((r) => [r.line, r.problem ?? JSON.parse(r.text).a])).toEqual([
        [1, 1],
        [2, 'the record is cut off: line 3 starts a new record before it ends'],
        [3, 3],
        [4, 4],
      ]);
      for (const size of [1, 2, 5, 9]) expect(split(text, size)).toEqual(whole);
    }
    // A pretty-printed record's inner lines are not whole objects at the start of a line: it stays one record.
    expect(split('{\n  "a": {"b": 1},\n  "c": 2\n}\n').map((r) => r.problem ?? JSON.parse(r.text).c)).toEqual([2]);
  });

  it('returns top-level text that is not an object or array up to the end of its line', () => {
    const out = split('{"a":1}\nnot json at all\n{"a":2}\n42\n');
    expect(out.map((r) => [r.text, r.line])).toEqual([
      ['{"a":1}', 1],
      ['not json at all', 2],
      ['{"a":2}', 3],
      ['42', 4],
    ]);
  });

  it('reads the first string right when it is empty (no escape pending at the start)', () => {
    expect(splitEveryWay('{"":1} {"":"x"}\n')).toEqual([
      { text: '{"":1}', line: 1 },
      { text: '{"":"x"}', line: 1 },
    ]);
  });

  it('after a value that ends mid-line, the rest of the line is scanned, wherever the chunks end', () => {
    // The scanner, not the line reader, takes what follows the value: texts as they are, not parsed.
    expect(splitEveryWay('{\n"a":1} 7 \n{"b":\n2} {"c":3}\n{"d":4}\n')).toEqual([
      { text: '{\n"a":1}', line: 1 },
      { text: '7', line: 2 },
      { text: '{"b":\n2}', line: 3 },
      { text: '{"c":3}', line: 4 },
      { text: '{"d":4}', line: 5, value: { d: 4 } },
    ]);
  });

  it('a line of white space beyond JSON’s (no-break space) is a blank line, not junk', () => {
    expect(splitEveryWay('{"a":1}\n\u00a0\n \u00a0 \r\n{"a":2}\n')).toEqual([
      { text: '{"a":1}', line: 1, value: { a: 1 } },
      { text: '{"a":2}', line: 4, value: { a: 2 } },
    ]);
  });

  it('after junk or a scanned line, the next line is read as a line again (trimmed, parsed)', () => {
    // A no-break space is trimmed from a line's ends, but the scanner would take it for junk.
    expect(splitEveryWay('oops\n\u00a0{"a":1}\n{"b":1}{"b":2}\n\u00a0{"c":1}\n{\n"d":1\n}\n\u00a0{"e":1}\n')).toEqual([
      { text: 'oops', line: 1 },
      { text: '{"a":1}', line: 2, value: { a: 1 } },
      { text: '{"b":1}', line: 3 },
      { text: '{"b":2}', line: 3 },
      { text: '{"c":1}', line: 4, value: { c: 1 } },
      { text: '{\n"d":1\n}', line: 5 },
      { text: '{"e":1}', line: 8, value: { e: 1 } },
    ]);
  });

  it('an indented whole object inside a pretty-printed record is part of it, not a new record', () => {
    const text = '{"a":\n  {"b":1},\n "c":\n\t{"d":"}"}\n}\n{"e":1}\n';
    expect(splitEveryWay(text)).toEqual([
      { text: '{"a":\n  {"b":1},\n "c":\n\t{"d":"}"}\n}', line: 1 },
      { text: '{"e":1}', line: 6, value: { e: 1 } },
    ]);
  });

  it('a cut-off record ends before the white space and CR at the end of its last line', () => {
    expect(splitEveryWay('{"a":1, \t\r\n{"c":3}\r\n')).toEqual([
      { text: '{"a":1,', line: 1, problem: 'the record is cut off: line 2 starts a new record before it ends' },
      { text: '{"c":3}', line: 2, value: { c: 3 } },
    ]);
  });

  it('an escaped character ends the escape: the string closes at its next quote', () => {
    expect(splitEveryWay('{\n"a":"x\\"y\\\\",\n"b":"}"\n}\n{"c":1}\n')).toEqual([
      { text: '{\n"a":"x\\"y\\\\",\n"b":"}"\n}', line: 1 },
      { text: '{"c":1}', line: 5, value: { c: 1 } },
    ]);
  });

  it('an empty chunk changes nothing, in a value being scanned too', () => {
    expect(splitChunks(['{\n"a":', '', '1}\n{"b":2}\n', ''])).toEqual([
      { text: '{\n"a":1}', line: 1 },
      { text: '{"b":2}', line: 3, value: { b: 2 } },
    ]);
  });

  it('pushLine after a push that stopped between two values on one line: the line is scanned, as push would', () => {
    // The push ends after a scanned value and a space, mid-line: the rest of that line is top-level
    // text, so "2" is junk to be rejected (not an object), not a value of its own.
    const s = new JsonSplitter();
    const out = [...s.push('{"a":\n1} ')];
    s.pushLine('2', out);
    s.pushLine('{"b":3}', out);
    expect([...out, ...s.end()]).toEqual([
      { text: '{"a":\n1}', line: 1 },
      { text: '2', line: 2 },
      { text: '{"b":3}', line: 3, value: { b: 3 } },
    ]);
  });

  it('split() parses a text that is one object once, whole, on the line where it starts', () => {
    const text = '\n  \r\n {\n  "a": [1,\n  {"b": 2}],\n  "c": "{\\n{"\n}\r\n\n';
    expect(new JsonSplitter().split(text)).toEqual([{ text: '{\n  "a": [1,\n  {"b": 2}],\n  "c": "{\\n{"\n}', line: 3, value: { a: [1, { b: 2 }], c: '{\n{' } }]);
    // What is not exactly one object goes to the scanner as push would take it: no value parsed.
    expect(new JsonSplitter().split('{\n"a": 1\n}\n{"b": 2}')).toEqual([
      { text: '{\n"a": 1\n}', line: 1 },
      { text: '{"b": 2}', line: 4, value: { b: 2 } },
    ]);
    expect(new JsonSplitter().split('\uFEFF{\n"a": 1}')).toEqual([{ text: '{\n"a": 1}', line: 1 }]);
    expect(new JsonSplitter().split('[\n1]')).toEqual([{ text: '[\n1]', line: 1 }]);
  });

  it('split() leaves an object with a line starting with { to the scanner, which ends the record there', () => {
    // Valid JSON as a whole, but a line inside it is a whole object: read as a truncated record and a new one, as push reads it.
    const text = '{"list": [\n{"x": 1}\n]}';
    expect(new JsonSplitter().split(text)).toEqual(split(text));
    expect(split(text).map((r) => r.line)).toEqual([1, 2, 3]);
  });

  it('split() after a push that left a value unfinished continues it, as push would', () => {
    const s = new JsonSplitter();
    expect(s.push('{"a":\n')).toEqual([]);
    expect(s.split('1}\n')).toEqual([{ text: '{"a":\n1}', line: 1 }]);
  });

  it('after end(), the next file counts its lines from 1 again', () => {
    const s = new JsonSplitter();
    expect([...s.push('{"a":1}\n\n{"a":\n'), ...s.end()].map((r) => r.line)).toEqual([1, 3]);
    expect([...s.push('{"b":\n1}\n{"b":2}'), ...s.end()]).toEqual([
      { text: '{"b":\n1}', line: 1 },
      { text: '{"b":2}', line: 3, value: { b: 2 } },
    ]);
  });
});
