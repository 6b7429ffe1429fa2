import { describe, expect, it } from 'vitest';
import { JsonSplitter, type JsonText, lastLineOf } from '../src/etl/read/json-records.js';
import { escapeCopy } from '../src/db/insert-rows.js';
import { RAW_LIMIT, repairMojibake } from '../src/etl/read/records.js';
import { EVENT_SOURCE, SONG_SOURCE, type SourceSpec } from '../src/types/raw.js';
import { type Cells, isReject, stagedRow } from './helpers/binary-copy.js';
import { event, song } from './helpers/files.js';

// Edge cases of validation and splitting that mutation testing found untested. Expected values are
// written out by hand from the rules (PostgreSQL's integer range, JSON's grammar, COPY's formats).

const row = (text: string, source: SourceSpec = EVENT_SOURCE, file = 'logs/a.json') => stagedRow(source, { text, line: 3 }, file);
const reason = (out: ReturnType<typeof row>) => (isReject(out) ? out.reason : undefined);
/** The binary COPY cells of an accepted record, by staging column. */
const cells = (out: ReturnType<typeof row>): Cells => {
  expect(isReject(out), reason(out)).toBe(false);
  return out as Cells;
};

describe('validateRecord: what a record must be', () => {
  it.each([
    ['null', 'null'],
    ['a string', 'string'],
    ['true', 'boolean'],
    ['42', 'number'],
    ['[{"a":1}]', 'an array'],
  ])('rejects %s at the top level, naming what it is', (text, what) => {
    const quoted = what === 'string' ? '"a string"' : text;
    expect(reason(row(quoted))).toBe(`not a JSON object but ${what}`);
  });

  it('rejects a value the splitter already parsed the same way as its text', () => {
    expect(stagedRow(EVENT_SOURCE, { text: 'null', line: 1, value: null }, 'f')).toMatchObject({ reason: 'not a JSON object but null', line: 1, file: 'f', raw: 'null' });
    // A parsed object is taken as it is: its text is not parsed again.
    const out = stagedRow(EVENT_SOURCE, { text: 'not parsed', line: 2, value: JSON.parse(event({ userId: '5' })) }, 'f');
    expect(cells(out).user_id).toBe('5');
  });

  it('rejects a splitter problem with the problem as the reason', () => {
    expect(stagedRow(EVENT_SOURCE, { text: '{"a":', line: 9, problem: 'cut off' }, 'f')).toEqual({ file: 'f', line: 9, reason: 'cut off', raw: '{"a":' });
  });

  it('names the JSON error of text that does not parse', () => {
    expect(reason(row('{"page": }'))).toMatch(/^not valid JSON: \S/);
  });
});

describe('validateRecord: field types', () => {
  it('takes the 32-bit integer range exactly: -2147483648 to 2147483647', () => {
    for (const n of [2147483647, -2147483648, 0, -1]) expect(cells(row(event({ sessionId: n }))).session_id).toBe(n);
    for (const n of [2147483648, -2147483649]) {
      expect(reason(row(event({ sessionId: n })))).toBe(`field "sessionId" should be a 32-bit integer but is ${n}`);
    }
    expect(reason(row(event({ itemInSession: 1.5 })))).toBe('field "itemInSession" should be a 32-bit integer but is 1.5');
    expect(reason(row(event({ status: '200' })))).toBe('field "status" should be a 32-bit integer but is "200"');
  });

  it('takes any safe integer as a bigint, and nothing beyond', () => {
    expect(cells(row(event({ ts: 2 ** 53 - 1 }))).ts).toBe(9007199254740991);
    expect(cells(row(event({ ts: -(2 ** 53 - 1) }))).ts).toBe(-9007199254740991);
    expect(cells(row(event({ ts: -5 }))).ts).toBe(-5);
    expect(cells(row(event({ ts: 2 ** 32 }))).ts).toBe(4294967296);
    expect(reason(row(event({ ts: 2 ** 53 })))).toBe('field "ts" should be an integer but is 9007199254740992');
  });

  it('takes a number for a double and nothing else, the very double JSON gave', () => {
    expect(cells(row(event({ length: 233.16 }))).length).toBe(233.16);
    expect(cells(row(event({ length: 1e21 }))).length).toBe(1e21);
    expect(cells(row(event({ length: -0.5 }))).length).toBe(-0.5);
    expect(cells(row(event({ length: 5e-324 }))).length).toBe(5e-324);
    expect(reason(row(event({ length: 'abc' })))).toBe('field "length" should be a number but is "abc"');
    expect(reason(row(event({ length: '12.5' })))).toBe('field "length" should be a number but is "12.5"');
    expect(reason(row(event({ registration: true })))).toBe('field "registration" should be a number but is true');
    expect(reason(row(event({ length: [1] })))).toBe('field "length" should be a number but is [1]');
  });

  it('takes a string for a string field, and cuts a long wrong value to 60 characters in the reason', () => {
    expect(reason(row(event({ song: 5 })))).toBe('field "song" should be a string but is 5');
    expect(reason(row(event({ song: { a: 1 } })))).toBe('field "song" should be a string but is {"a":1}');
    const long = 'x'.repeat(100);
    expect(reason(row(event({ ts: long })))).toBe(`field "ts" should be an integer but is "${'x'.repeat(59)}`);
  });

  it('a missing optional field is NULL; a missing or null required one is a reject', () => {
    const text = JSON.stringify({ page: 'Home', ts: 1, userId: '' });
    const c = cells(row(text));
    expect(c).toMatchObject({ page: 'Home', ts: 1, user_id: '', artist: null, length: null, session_id: null });
    expect(reason(row(JSON.stringify({ ts: 1, userId: '' })))).toBe('missing required field "page"');
    expect(reason(row(song({ song_id: null }), SONG_SOURCE))).toBe('missing required field "song_id"');
  });

  it('checks the byte length only against the column: a 16-byte level fits, 17 does not', () => {
    expect(cells(row(event({ level: 'x'.repeat(16) }))).level).toBe('x'.repeat(16));
    expect(reason(row(event({ level: 'x'.repeat(17) })))).toBe('field "level" is 17 bytes long, more than its column\'s 16');
    // 6 characters of 3 bytes: 18 bytes.
    expect(reason(row(event({ level: '€'.repeat(6) })))).toBe('field "level" is 18 bytes long, more than its column\'s 16');
  });

  it('user ids: up to nine digits, or empty', () => {
    expect(cells(row(event({ userId: '123456789' }))).user_id).toBe('123456789');
    expect(reason(row(event({ userId: '1234567890' })))).toBe('field "userId" should be a string of digits, or "" when logged out but is "1234567890"');
    expect(reason(row(event({ userId: '12a' })))).toMatch(/^field "userId" should be a string of digits/);
  });

  it('a NextSong needs both session and item; other pages need neither', () => {
    expect(reason(row(event({ page: 'NextSong', itemInSession: null })))).toBe('a NextSong event needs "sessionId" and "itemInSession"');
    expect(reason(row(event({ page: 'NextSong', sessionId: 1, itemInSession: 0 })))).toBeUndefined();
    expect(reason(row(event({ page: 'Home', sessionId: null, itemInSession: null })))).toBeUndefined();
  });

  it('writes the lineage, the file as it is named and the line number, after the fields', () => {
    expect(cells(row(event({}), EVENT_SOURCE, 'odd\tnäme.json'))).toMatchObject({ source_file: 'odd\tnäme.json', source_line: 3 });
  });
});

describe('validateRecord: repairs', () => {
  it('counts only texts it changed, and puts the repaired text in the parsed record', () => {
    const stats = { repaired: 0 };
    const json: JsonText = { text: event({ artist: 'BjÃ¶rk', song: 'Ã Ã', location: 'Mötley' }), line: 1 };
    const out = stagedRow(EVENT_SOURCE, json, 'f', stats);
    expect(cells(out)).toMatchObject({ artist: 'Björk', song: 'Ã Ã', location: 'Mötley' });
    expect(stats.repaired).toBe(1);
    expect((json.value as Record<string, unknown>).artist).toBe('Björk');
    expect(() => stagedRow(EVENT_SOURCE, { text: event({ artist: 'BjÃ¶rk' }), line: 1 }, 'f')).not.toThrow();
  });

  it('stops at text that is already right, and at a repair that would make control characters', () => {
    expect(repairMojibake('Ã©')).toBe('é');
    // "Â\u0085" decodes to U+0085, a control character: left as it is.
    expect(repairMojibake('Â\u0085')).toBe('Â\u0085');
    expect(repairMojibake('')).toBe('');
    // A lead byte and its continuation, then a lead byte cut off: not valid UTF-8, left as it is.
    expect(repairMojibake('Ã©Ã')).toBe('Ã©Ã');
    const stats = { repaired: 0 };
    expect(cells(stagedRow(EVENT_SOURCE, { text: event({ artist: 'Â\u0085' }), line: 1 }, 'f', stats)).artist).toBe('Â\u0085');
    expect(stats.repaired).toBe(0);
  });
});

describe('validateRecord: rejects keep their raw text', () => {
  it('cut to exactly RAW_LIMIT characters, NUL kept visible', () => {
    expect(RAW_LIMIT).toBe(2000);
    const text = `{"page": ${'1'.repeat(2500)}`;
    expect((row(text) as { raw: string }).raw).toBe(text.slice(0, 2000));
    expect((row('{"a":\u0000}') as { raw: string }).raw).toBe('{"a":\\u0000}');
    expect(reason(row(event({ song: 'a\u0000' })))).toBe('field "song" contains a NUL character');
  });
});

describe('escapeCopy', () => {
  it('escapes each of backslash, tab, newline and carriage return, alone and together, and nothing else', () => {
    expect(escapeCopy('\\')).toBe('\\\\');
    expect(escapeCopy('\t')).toBe('\\t');
    expect(escapeCopy('\n')).toBe('\\n');
    expect(escapeCopy('\r')).toBe('\\r');
    expect(escapeCopy('a\r\n\\\tb')).toBe('a\\r\\n\\\\\\tb');
    expect(escapeCopy('plain "text" \u000b')).toBe('plain "text" \u000b');
  });
});

/** Splits `text` fed in chunks of `size` characters. */
function split(text: string, size = text.length): JsonText[] {
  const s = new JsonSplitter();
  const out: JsonText[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)));
  return [...out, ...s.end()];
}
/** Each value's text and line, or its problem. */
const brief = (out: JsonText[]) => out.map((r) => (r.problem ? [r.line, 'problem', r.text] : [r.line, r.text]));
/** The same result whatever the chunk sizes. */
function splitAnyway(text: string) {
  const whole = split(text);
  for (let size = 1; size <= Math.min(text.length, 24); size++) expect(split(text, size), `chunks of ${size}`).toEqual(whole);
  return whole;
}

describe('JsonSplitter: multi-line records', () => {
  it('a } inside a string does not end a pretty-printed record', () => {
    const text = '{\n  "a": "}",\n  "b": "{{"\n}\n{"c":1}\n';
    expect(brief(splitAnyway(text))).toEqual([
      [1, '{\n  "a": "}",\n  "b": "{{"\n}'],
      [5, '{"c":1}'],
    ]);
  });

  it('an escaped quote does not end a string; an escaped backslash before a quote does', () => {
    const text = '{\n  "a": "x\\"}",\n  "b": "y\\\\"\n}\n';
    const out = splitAnyway(text);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!.text)).toEqual({ a: 'x"}', b: 'y\\' });
  });

  it('arrays nest with objects, and ] closes as } does', () => {
    const text = '[\n 1, {"a":[1,\n2]}, {"b":"]"}\n]\n{"c":3}\n';
    expect(brief(splitAnyway(text))).toEqual([
      [1, '[\n 1, {"a":[1,\n2]}, {"b":"]"}\n]'],
      [5, '{"c":3}'],
    ]);
  });

  it('lastLineOf: the line a value ends on', () => {
    expect(split('\n{\n"a":\n1\n}\n').map(lastLineOf)).toEqual([5]);
    expect(lastLineOf({ text: '{"a":1}', line: 7 })).toBe(7);
  });
});

describe('JsonSplitter: several values on one line', () => {
  it('with spaces, tabs, CR or a byte-order mark between them, or nothing', () => {
    const text = '{"a":1}   {"a":2}\t{"a":3}{"a":4} \uFEFF {"a":5}\r\n{"a":6}\n';
    expect(brief(splitAnyway(text))).toEqual([
      [1, '{"a":1}'],
      [1, '{"a":2}'],
      [1, '{"a":3}'],
      [1, '{"a":4}'],
      [1, '{"a":5}'],
      [2, '{"a":6}'],
    ]);
  });

  it('junk after a value on its line is returned up to the line end, and the next line reads as usual', () => {
    expect(brief(splitAnyway('{"a":1} tail text \n{"a":2}\n'))).toEqual([
      [1, '{"a":1}'],
      [1, 'tail text'],
      [2, '{"a":2}'],
    ]);
  });
});

describe('JsonSplitter: lines', () => {
  it('trims white space around a one-line value, and keeps the value parsed', () => {
    const out = splitAnyway('  {"a":1}\t\n\t{"a":2}  \n{"a":3} \n \u00a0{"a":4}\n {"a": 5,  "b": " x "} \n');
    expect(out.map((r) => r.text)).toEqual(['{"a":1}', '{"a":2}', '{"a":3}', '{"a":4}', '{"a": 5,  "b": " x "}']);
    expect(out.map((r) => r.value)).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }, { a: 5, b: ' x ' }]);
  });

  it('a one-line scalar or array is returned as a value of its own', () => {
    expect(splitAnyway('[1,2]\n"s"\n7\n').map((r) => [r.line, r.text])).toEqual([
      [1, '[1,2]'],
      [2, '"s"'],
      [3, '7'],
    ]);
  });

  it('junk on the last line without a newline is returned, with no problem (the caller rejects it)', () => {
    expect(split('{"a":1}\nabc')).toEqual([
      { text: '{"a":1}', line: 1, value: { a: 1 } },
      { text: 'abc', line: 2 },
    ]);
  });

  it('a record cut off at the end of the file keeps its text up to the end, without trailing white space', () => {
    expect(brief(splitAnyway('{"a":1}\n{"b":\n  "x" \n'))).toEqual([
      [1, '{"a":1}'],
      [2, 'problem', '{"b":\n  "x"'],
    ]);
    expect(brief(splitAnyway('{"s": "unclosed \\" quote}\n'))).toEqual([[1, 'problem', '{"s": "unclosed \\" quote}']]);
  });

  it('a splitter is ready for the next file after end()', () => {
    const s = new JsonSplitter();
    s.push('{"a":\n');
    expect(s.end()).toHaveLength(1);
    expect([...s.push('{"b":1}\n'), ...s.end()].map((r) => [r.text, r.value, r.problem])).toEqual([['{"b":1}', { b: 1 }, undefined]]);
  });
});

describe('JsonSplitter: cut-off records', () => {
  it('a cut-off record ends where a line holds a whole object; a line that only starts with { does not end it', () => {
    const text = '{"a":\n{"x":\n1}}\n{"c":3}\n';
    // Line 2 starts with { but is not a whole object: the record goes on, and ends at line 3's }}.
    expect(brief(splitAnyway(text))).toEqual([
      [1, '{"a":\n{"x":\n1}}'],
      [4, '{"c":3}'],
    ]);
  });

  it('names the line that starts the next record, counting from the cut-off one', () => {
    const text = '\n\n{"a":1,\n"b":\n{"c":3}\n{"d":4}\n';
    const out = splitAnyway(text);
    expect(brief(out)).toEqual([
      [3, 'problem', '{"a":1,\n"b":'],
      [5, '{"c":3}'],
      [6, '{"d":4}'],
    ]);
    expect(out[0]!.problem).toBe('the record is cut off: line 5 starts a new record before it ends');
  });

  it('a cut-off record in a string stops at a whole-object line too', () => {
    expect(brief(splitAnyway('{"a":"open\n{"c":3}\n'))).toEqual([
      [1, 'problem', '{"a":"open'],
      [2, '{"c":3}'],
    ]);
  });
});
