import type { FieldSpec, SourceSpec } from '../../types/raw.js';
import type { JsonText } from './json-records.js';

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
// Printable ASCII but the backslash: text of only these has no mojibake, NUL, or character COPY escapes.
// Stryker disable next-line Regex: equivalent — a narrower PLAIN only sends more text through the full checks. (The wider mutants on this line are killed by records.test.ts; a directive covers the line.)
const PLAIN = /^[\u0020-\u005b\u005d-\u007e]*$/;

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
 * Parses and validates one record; returns its COPY text row or the reason it is rejected. Text
 * fields are repaired (repairMojibake) in the row and in `json.value`, counted in `stats`.
 */
export function toCopyRow(source: SourceSpec, json: JsonText, file: string, stats?: RecordStats): string | Reject {
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
  const cells = CELLS;
  let n = 0;
  for (const field of source.fields) {
    let raw = record[field.json];
    // Most text is plain ASCII: one scan rules out mojibake, NUL and anything COPY escapes.
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
    const cell = copyCell(field, raw, plain);
    if (typeof cell !== 'string') return reject(json, file, cell.reason);
    cells[n++] = cell;
  }
  const rule = source.recordRule?.(record);
  if (rule) return reject(json, file, rule);
  cells[n++] = escapedPath(file);
  cells[n++] = `${json.line}\n`;
  cells.length = n;
  return cells.join('\t');
}

// A row's cells, joined once (toCopyRow is synchronous, so one array serves every call): adding
// them to a string one by one made two short-lived strings per cell, 5% of the parse.
// Stryker disable next-line ArrayDeclaration: equivalent — toCopyRow writes a row's cells from index 0 and sets the length before joining, so what CELLS starts with never reaches a row.
const CELLS: string[] = [];

// Every row of a file ends with its path: escaped once per file, not once per row.
// Stryker disable next-line StringLiteral: equivalent — the cache's empty start: no data file's path is "".
let lastPath = '';
// Stryker disable next-line StringLiteral: equivalent — read only once lastPath names a file, which sets it.
let lastEscaped = '';
function escapedPath(file: string): string {
  // Stryker disable next-line ConditionalExpression: equivalent — a cache; escaping again gives the same text.
  if (file !== lastPath) [lastPath, lastEscaped] = [file, escapeCopy(file)];
  return lastEscaped;
}

// A plain function, not a closure per record: the parser is the staging load's hot path.
function reject(json: JsonText, file: string, reason: string): Reject {
  // PostgreSQL text cannot hold NUL (binary junk in a log file): it is kept visible as \u0000.
  return { file, line: json.line, reason, raw: json.text.slice(0, RAW_LIMIT).replaceAll('\u0000', '\\u0000') };
}

function wrongType(field: FieldSpec, value: unknown, expected: string) {
  return { reason: `field "${field.json}" should be ${expected} but is ${JSON.stringify(value).slice(0, 60)}` };
}

/** One value in COPY's text format, or why it does not fit its column; `plain`: a string known to be PLAIN. (Hot: runs for every field.) */
function copyCell(field: FieldSpec, value: unknown, plain: boolean): string | { reason: string } {
  if (value === undefined || value === null) {
    return field.required ? { reason: `missing required field "${field.json}"` } : '\\N';
  }
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string') return wrongType(field, value, 'a string');
      // Stryker disable next-line LogicalOperator: equivalent — a shortcut: plain text holds no NUL.
      if (!plain && value.includes('\u0000')) return { reason: `field "${field.json}" contains a NUL character` };
      // UTF-8 takes at most 3 bytes per UTF-16 unit: only long strings need counting.
      // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent — a shortcut; counting every string's bytes gives the same answer.
      if (field.maxBytes !== undefined && value.length * 3 > field.maxBytes) {
        // Stryker disable next-line StringLiteral: equivalent — Buffer.byteLength(text, '') counts UTF-8 too.
        const bytes = Buffer.byteLength(value, 'utf8');
        if (bytes > field.maxBytes) {
          return { reason: `field "${field.json}" is ${bytes} bytes long, more than its column's ${field.maxBytes}` };
        }
      }
      // Stryker disable next-line StringLiteral: equivalent — every field with a pattern has a patternHint (types/raw.ts), so the fallback is never used.
      if (field.pattern && !field.pattern.test(value)) return wrongType(field, value, field.patternHint ?? `like ${field.pattern}`);
      // Stryker disable next-line ConditionalExpression: equivalent — a shortcut: escapeCopy returns plain text as it is.
      return plain ? value : escapeCopy(value);
    }
    case 'integer':
      if (!Number.isInteger(value) || (value as number) < INT32_MIN || (value as number) > INT32_MAX) return wrongType(field, value, 'a 32-bit integer');
      return String(value);
    case 'bigint':
      if (!Number.isSafeInteger(value)) return wrongType(field, value, 'an integer');
      return String(value);
    case 'double':
      // Stryker disable next-line LogicalOperator,ConditionalExpression: equivalent — JSON has no Infinity or NaN, and Number.isFinite is false for anything not a number.
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType(field, value, 'a number');
      return String(value);
  }
}

/** Escapes text for COPY's text format: backslash, tab, newline and carriage return. */
const NEEDS_ESCAPE = /[\\\t\n\r]/;

export function escapeCopy(text: string): string {
  return NEEDS_ESCAPE.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : text;
}
