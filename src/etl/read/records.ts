import { type FieldSpec, LINEAGE_COLUMNS, type SourceSpec } from '../../types/raw.js';
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
 * UTF-8 that encodes back to the same bytes, and the result has no control characters. Anything
 * else ("Beyoncé", "Mötley Crüe" in real Latin-1) is returned as it is.
 */
export function repairMojibake(text: string): string {
  let current = text;
  // Stryker disable next-line LogicalOperator: equivalent — text beyond Latin-1 never survives the exact round trip below, which stops the loop as well.
  while (MOJIBAKE.test(current) && !BEYOND_LATIN1.test(current)) {
    const bytes = Buffer.from(current, 'latin1');
    const decoded = bytes.toString('utf8');
    // Stryker disable next-line StringLiteral: equivalent — Buffer.from(text, '') encodes UTF-8 too.
    // Stryker disable next-line ConditionalExpression: equivalent — `decoded === current` → false: text with mojibake has a byte of 0x80 or more, which UTF-8 decoding never keeps as the same character (a sequence becomes one character, a stray byte U+FFFD), so decoded always differs. The line's other ConditionalExpression mutants (killed) are ignored with it.
    if (decoded === current || CONTROL.test(decoded) || !Buffer.from(decoded, 'utf8').equals(bytes)) break;
    current = decoded;
  }
  return current;
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

/** Checks one field of a record, repairing its text, and writes its cell; returns why it does not fit, if it does not. */
function fieldCell(field: FieldSpec, record: Record<string, unknown>, out: RowBuffer | undefined, stats: RecordStats | undefined): string | undefined {
  let raw = record[field.json];
  // Most text is plain ASCII: one scan rules out mojibake and NUL, and lets the row copy it byte for byte.
  // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: equivalent — `plain` only lets strings skip checks that find nothing in plain text (false runs them all), and copyCell reads it for strings only.
  const plain = typeof raw === 'string' && PLAIN.test(raw);
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent — a shortcut: repairMojibake returns anything without mojibake (numbers and plain ASCII included) as it is.
  if (typeof raw === 'string' && !plain && MOJIBAKE.test(raw)) {
    const repaired = repairMojibake(raw);
    if (repaired !== raw) {
      record[field.json] = raw = repaired;
      if (stats) stats.repaired++;
    }
  }
  return copyCell(field, raw, plain, out);
}

type FieldsWriter = (record: Record<string, unknown>, out: RowBuffer | undefined, stats: RecordStats | undefined) => string | undefined;
const writers = new WeakMap<SourceSpec, FieldsWriter>();

/**
 * A source's fields checked and written by code made for it: reading a property by a constant name
 * is much cheaper than by a name that changes with every field (one read site for all of them). The
 * made code only takes what needs no check beyond its type: null in an optional field, plain text
 * within its column, a number of the column's type. Anything else goes to fieldCell, the one
 * place that says what a field takes and why not.
 */
function fieldsWriter(source: SourceSpec): FieldsWriter {
  let writer = writers.get(source);
  if (writer) return writer;
  const body = source.fields.map((field, i) => {
    const general = `p = fieldCell(F[${i}], r, out, stats); if (p !== undefined) return p;`;
    const usual = {
      string: `typeof v === 'string'${field.maxBytes === undefined ? '' : ` && v.length <= ${field.maxBytes}`} && PLAIN.test(v)${field.pattern ? ` && F[${i}].pattern.test(v)` : ''}) out?.textCell(v, true)`,
      integer: `typeof v === 'number' && (v | 0) === v) out?.int4Cell(v)`,
      bigint: `Number.isSafeInteger(v)) out?.int8Cell(v)`,
      double: `typeof v === 'number' && Number.isFinite(v)) out?.float8Cell(v)`,
    }[field.type];
    return [
      `v = r[${JSON.stringify(field.json)}];`,
      `if (v === undefined || v === null) { ${field.required ? general : 'out?.nullCell();'} }`,
      `else if (${usual};`,
      `else { ${general} }`,
    ].join('\n');
  });
  const make = new Function('F', 'PLAIN', 'fieldCell', `return function writeFields(r, out, stats) {\nlet v, p;\n${body.join('\n')}\nreturn undefined;\n}`);
  writer = make(source.fields, PLAIN, fieldCell) as FieldsWriter;
  writers.set(source, writer);
  return writer;
}

// A plain function, not a closure per record: the parser is the staging load's hot path.
function reject(json: JsonText, file: string, reason: string): Reject {
  // PostgreSQL text cannot hold NUL (binary junk in a log file): it is kept visible as \u0000.
  return { file, line: json.line, reason, raw: json.text.slice(0, RAW_LIMIT).replaceAll('\u0000', '\\u0000') };
}

function wrongType(field: FieldSpec, value: unknown, expected: string): string {
  return `field "${field.json}" should be ${expected} but is ${JSON.stringify(value).slice(0, 60)}`;
}

/**
 * Checks one value against its field and writes it to `out` as a cell of its column's type; returns
 * why it does not fit, if it does not. `plain`: a string known to be PLAIN. (Hot: runs for every field.)
 */
function copyCell(field: FieldSpec, value: unknown, plain: boolean, out: RowBuffer | undefined): string | undefined {
  if (value === undefined || value === null) {
    if (field.required) return `missing required field "${field.json}"`;
    out?.nullCell();
    return undefined;
  }
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string') return wrongType(field, value, 'a string');
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
    case 'integer':
      if (!Number.isInteger(value) || (value as number) < INT32_MIN || (value as number) > INT32_MAX) return wrongType(field, value, 'a 32-bit integer');
      out?.int4Cell(value as number);
      return undefined;
    case 'bigint':
      if (!Number.isSafeInteger(value)) return wrongType(field, value, 'an integer');
      out?.int8Cell(value as number);
      return undefined;
    case 'double':
      // Stryker disable next-line LogicalOperator,ConditionalExpression: equivalent — JSON has no Infinity or NaN, and Number.isFinite is false for anything not a number.
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType(field, value, 'a number');
      out?.float8Cell(value);
      return undefined;
  }
}
