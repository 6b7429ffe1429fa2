import type { QueryText } from '../db/read-only.js';

/** Rows as a grid: column names in order (repeats allowed, as SQL allows them) and each row's cells. */
export interface Grid {
  columns: string[];
  cells: unknown[][];
}

/** A grid of record rows, its columns those of the first row. */
const gridOf = (rows: Record<string, unknown>[]): Grid => {
  const columns = rows.length ? Object.keys(rows[0]!) : [];
  return { columns, cells: rows.map((r) => columns.map((c) => r[c])) };
};

const text = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));

/** Renders rows (records, or a grid) as an aligned text table for the terminal; NULL is written NULL, apart from an empty string. */
export function table(rows: Record<string, unknown>[] | Grid): string {
  const { columns, cells } = Array.isArray(rows) ? gridOf(rows) : rows;
  if (cells.length === 0) return '(no rows)';
  const cell = (v: unknown) => (v === null || v === undefined ? 'NULL' : text(v));
  const shown = cells.map((row) => row.map(cell));
  const widths = columns.map((c, i) => Math.max(c.length, ...shown.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...shown.map(line)].join('\n');
}

/**
 * Renders rows (records, or a grid) as CSV (RFC 4180): fields with commas, quotes or line breaks are
 * quoted. As in PostgreSQL's CSV, NULL is an empty field and an empty string a quoted one (""), so they stay apart.
 */
export function csv(rows: Record<string, unknown>[] | Grid): string {
  const { columns, cells } = Array.isArray(rows) ? gridOf(rows) : rows;
  // No rows: the header alone where the columns are known (a query's), as psql --csv prints it.
  if (cells.length === 0 && columns.length === 0) return '';
  const field = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const t = text(v);
    return t === '' || /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  return [columns.map(field).join(','), ...cells.map((row) => row.map(field).join(','))].join('\n');
}

// OIDs of the types JSON output gives as numbers, booleans or JSON (https://www.postgresql.org/docs/current/catalog-pg-type.html;
// Redshift's types share them).
const EXACT = new Set([20, 21, 23, 26, 1700]); // integers and NUMERIC: a JS number may not hold them
const FLOATS = new Set([700, 701]); // REAL and DOUBLE PRECISION: a JS number holds them (the server may write 1e+20)
const BOOL = 16;
const JSON_TYPES = new Set([114, 3802]);

/**
 * The result as JSON-ready records: numbers, booleans and JSON as such (a number JSON cannot hold
 * exactly stays text), anything else as the server's text. A column name given again gets a suffix
 * (`song_id`, `song_id_2`), since a record holds a name once.
 */
export function queryRecords({ fields, rows }: QueryText): Record<string, unknown>[] {
  // A suffix never takes a name the query gave: columns a, a, a_2 become a, a_3, a_2.
  const given = new Set(fields.map((f) => f.name));
  const keys: string[] = [];
  for (const { name } of fields) {
    let key = name;
    for (let n = 2; keys.includes(key) || (key !== name && given.has(key)); n++) key = `${name}_${n}`;
    keys.push(key);
  }
  const value = (text: string | null, type: number): unknown => {
    if (text === null) return null;
    if (type === BOOL) return text === 't';
    if (JSON_TYPES.has(type)) return JSON.parse(text);
    if (FLOATS.has(type)) return Number.isFinite(Number(text)) ? Number(text) : text;
    if (EXACT.has(type)) {
      // NUMERIC keeps trailing zeros ("12.50"); a number is kept as text only where a JS number would change its value.
      const n = Number(text);
      const plain = text.includes('.') ? text.replace(/\.?0+$/, '') : text;
      return Number.isFinite(n) && String(n) === plain ? n : text;
    }
    return text;
  };
  return rows.map((row) => Object.fromEntries(row.map((text, i) => [keys[i]!, value(text, fields[i]!.dataTypeID)])));
}
