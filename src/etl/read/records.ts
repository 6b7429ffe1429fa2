import { type FieldSpec, type FieldType, LINEAGE_COLUMNS, type SourceSpec } from '../../types/raw.js';
import type { JsonText } from './json-records.js';
import type { RowBuffer } from './row-buffer.js';

/** A record that cannot be staged, and why. */
export interface Reject {
  file: string;
  line: number;
  reason: string;
  /** The record's text, cut to RAW_LIMIT characters. */
  raw: string;
}

export const RAW_LIMIT = 2000;
// PostgreSQL's and Redshift's INTEGER: -2147483648 to 2147483647.
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** What validation changed while it passed records: texts whose mis-decoding it repaired. */
export interface RecordStats {
  repaired: number;
}

// A UTF-8 lead byte followed by a continuation byte, both read as Latin-1: the mark of mis-decoded UTF-8.
const MOJIBAKE = /[\u00c2-\u00f4][\u0080-\u00bf]/;
const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Printable ASCII: text of only these has no mojibake or NUL, and is one byte per character.
// Stryker disable next-line Regex: equivalent — a narrower PLAIN only sends more text through the full checks. (The wider mutants on this line are killed by records.test.ts; a directive covers the line.)
const PLAIN = /^[\u0020-\u007e]*$/;

/**
 * Text whose UTF-8 bytes were decoded as Latin-1 (once or more: the real logs hold "BjÃ\u0083Â¶rk"
 * for Björk), decoded again while the repair is exact: the text is all Latin-1, its bytes are valid
 * UTF-8 that encodes back to the same bytes. The result is the last such decoding without control
 * characters: a step between may hold some (garbled twice, "Åström" is "ÃÂ\u0085strÃÂ¶m", and
 * once decoded "Ã\u0085strÃ¶m", whose U+0085 is the Latin-1 reading of the byte 0x85), the result
 * may not. Anything else ("Beyoncé", "Mötley Crüe" in real Latin-1) is returned as it is.
 */
export function repairMojibake(text: string): string {
  let current = text;
  let repaired = text;
  // Stryker disable next-line LogicalOperator: equivalent — text beyond Latin-1 never survives the exact round trip below, which stops the loop as well.
  while (MOJIBAKE.test(current) && !BEYOND_LATIN1.test(current)) {
    const bytes = Buffer.from(current, 'latin1');
    const decoded = bytes.toString('utf8');
    // Stryker disable next-line StringLiteral: equivalent — Buffer.from(text, '') encodes UTF-8 too.
    // Stryker disable next-line ConditionalExpression: equivalent — `decoded === current` → false: text with mojibake has a byte of 0x80 or more, which UTF-8 decoding never keeps as the same character (a sequence becomes one character, a stray byte U+FFFD), so decoded always differs. The line's other ConditionalExpression mutants (killed) are ignored with it.
    if (decoded === current || !Buffer.from(decoded, 'utf8').equals(bytes)) break;
    current = decoded;
    if (!CONTROL.test(current)) repaired = current;
  }
  return repaired;
}

/**
 * Parses and validates one record; returns why it is rejected, or undefined when it is good. A good
 * record is written to `out` as a binary COPY row (its fields, then its file and line) when `out` is
 * given, and left parsed in `json.value`. Text fields are repaired (repairMojibake) in the row and in
 * `json.value`, counted in `stats`.
 */
export function validateRecord(source: SourceSpec, json: JsonText, file: string, stats?: RecordStats, out?: RowBuffer): Reject | undefined {
  if (json.problem) return reject(json, file, json.problem);
  let value = json.value;
  if (value === undefined) {
    try {
      value = JSON.parse(json.text);
    } catch (error) {
      return reject(json, file, `not valid JSON: ${(error as Error).message}`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return reject(json, file, `not a JSON object but ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  const record = value as Record<string, unknown>;
  json.value = record; // parsed once: JSON output (for Redshift uploads) takes the repaired record
  out?.beginRow(source.fields.length + LINEAGE_COLUMNS.length);
  const problem = fieldsWriter(source)(record, out, stats);
  if (problem) {
    out?.abandonRow();
    return reject(json, file, problem);
  }
  const rule = source.recordRule?.(record);
  if (rule) {
    out?.abandonRow();
    return reject(json, file, rule);
  }
  out?.textCell(file, false);
  out?.int4Cell(json.line);
  return undefined;
}

type FieldsWriter = (record: Record<string, unknown>, out: RowBuffer | undefined, stats: RecordStats | undefined) => string | undefined;
const writers = new WeakMap<SourceSpec, FieldsWriter>();

/** The rule of each number type: the test a value passes (JavaScript, on `v`), the cell it makes, what a reject says it should be. */
const NUMBER_TYPES: Record<Exclude<FieldType, 'string'>, { test: string; cell: 'int4Cell' | 'int8Cell' | 'float8Cell'; expected: string }> = {
  integer: { test: `Number.isInteger(v) && v >= ${INT32_MIN} && v <= ${INT32_MAX}`, cell: 'int4Cell', expected: 'a 32-bit integer' },
  bigint: { test: 'Number.isSafeInteger(v)', cell: 'int8Cell', expected: 'an integer' },
  // JSON has no Infinity or NaN; the test still says what the column takes.
  double: { test: "typeof v === 'number' && Number.isFinite(v)", cell: 'float8Cell', expected: 'a number' },
};

/**
 * A source's fields checked and written by code made for it from its field list: reading a property
 * by a constant name is much cheaper than by a name that changes with every field (one read site
 * for all of them; 200k events: 0.61 → 0.51 s). Null, and numbers by NUMBER_TYPES, are judged there
 * whole; text there only when it is plain and fits, and otherwise by textField.
 */
function fieldsWriter(source: SourceSpec): FieldsWriter {
  let writer = writers.get(source);
  // Stryker disable next-line ConditionalExpression: equivalent — `→ false` makes the same code again for every record, only slower.
  if (writer) return writer;
  const body = source.fields.map((field, i) => {
    const missing = field.required ? `return missing(F[${i}]);` : 'out?.nullCell();';
    let value: string;
    if (field.type === 'string') {
      // Stryker disable next-line ConditionalExpression: equivalent — `→ false` adds `v.length <= undefined`, which sends all text to textField, only slower. (`→ true` is killed.)
      const fits = field.maxBytes === undefined ? '' : ` && v.length <= ${field.maxBytes}`;
      const pattern = field.pattern ? ` && F[${i}].pattern.test(v)` : '';
      value = `if (typeof v === 'string'${fits} && PLAIN.test(v)${pattern}) out?.textCell(v, true);
        else { p = textField(F[${i}], r, out, stats); if (p !== undefined) return p; }`;
    } else {
      const { test, cell, expected } = NUMBER_TYPES[field.type];
      value = `if (${test}) out?.${cell}(v);
        else return wrongType(F[${i}], v, ${JSON.stringify(expected)});`;
    }
    return `v = r[${JSON.stringify(field.json)}];
      if (v === undefined || v === null) { ${missing} }
      else { ${value} }`;
  });
  // Stryker disable next-line StringLiteral: equivalent — the fields' code joined without newlines is the same code (each ends in `}`). The line's other StringLiteral mutants (killed: no such code compiles) are ignored with it.
  const make = new Function('F', 'PLAIN', 'missing', 'wrongType', 'textField', `return function writeFields(r, out, stats) {\nlet v, p;\n${body.join('\n')}\n}`);
  writer = make(source.fields, PLAIN, missing, wrongType, textField) as FieldsWriter;
  writers.set(source, writer);
  return writer;
}

/**
 * The rule of a text field for a value the made code did not take: a string, its mis-decoded UTF-8
 * repaired, without NUL, within its column's bytes, matching its pattern. Writes the cell; returns
 * why the value does not fit, if it does not.
 */
function textField(field: FieldSpec, record: Record<string, unknown>, out: RowBuffer | undefined, stats: RecordStats | undefined): string | undefined {
  const raw = record[field.json];
  if (typeof raw !== 'string') return wrongType(field, raw, 'a string');
  let value = raw;
  // Most text is plain ASCII: one scan rules out mojibake and NUL, and lets the row copy it byte for byte.
  const plain = PLAIN.test(value);
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent — a shortcut: repairMojibake returns plain ASCII as it is.
  if (!plain && MOJIBAKE.test(value)) {
    const repaired = repairMojibake(value);
    if (repaired !== value) {
      record[field.json] = value = repaired;
      if (stats) stats.repaired++;
    }
  }
  // Stryker disable next-line LogicalOperator: equivalent — a shortcut: plain text holds no NUL.
  if (!plain && value.includes('\u0000')) return `field "${field.json}" contains a NUL character`;
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only long strings need counting.
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent — a shortcut; counting every string's bytes gives the same answer.
  if (field.maxBytes !== undefined && value.length * 3 > field.maxBytes) {
    // Stryker disable next-line StringLiteral: equivalent — Buffer.byteLength(text, '') counts UTF-8 too.
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > field.maxBytes) return `field "${field.json}" is ${bytes} bytes long, more than its column's ${field.maxBytes}`;
  }
  // Stryker disable next-line StringLiteral: equivalent — every field with a pattern has a patternHint (types/raw.ts), so the fallback is never used.
  if (field.pattern && !field.pattern.test(value)) return wrongType(field, value, field.patternHint ?? `like ${field.pattern}`);
  out?.textCell(value, plain);
  return undefined;
}

function missing(field: FieldSpec): string {
  return `missing required field "${field.json}"`;
}

// A plain function, not a closure per record: the parser is the staging load's hot path.
function reject(json: JsonText, file: string, reason: string): Reject {
  // PostgreSQL text cannot hold NUL (binary junk in a log file): it is kept visible as \u0000.
  return { file, line: json.line, reason, raw: json.text.slice(0, RAW_LIMIT).replaceAll('\u0000', '\\u0000') };
}

function wrongType(field: FieldSpec, value: unknown, expected: string): string {
  return `field "${field.json}" should be ${expected} but is ${JSON.stringify(value).slice(0, 60)}`;
}
