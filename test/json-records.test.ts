import { describe, expect, it } from 'vitest';
import { JsonSplitter, type JsonText } from '../src/etl/read/json-records.js';

/** Splits `text` fed in chunks of `size` characters. */
function split(text: string, size = text.length): JsonText[] {
  const s = new JsonSplitter();
  const out: JsonText[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
  return [...out, ...s.end()];
}

/** Splits `chunks` fed one after another. */
function splitChunks(chunks: string[]): JsonText[] {
  const s = new JsonSplitter();
  return [...chunks.flatMap((chunk) => s.push(chunk)), ...s.end()];
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

  it('an empty chunk changes nothing, in a value being scanned too', () => {
    expect(splitChunks(['{\n"a":', '', '1}\n{"b":2}\n', ''])).toEqual([
      { text: '{\n"a":1}', line: 1 },
      { text: '{"b":2}', line: 3, value: { b: 2 } },
    ]);
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
