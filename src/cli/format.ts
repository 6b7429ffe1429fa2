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
