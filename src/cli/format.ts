/** Renders rows as an aligned text table for the terminal; NULL is written NULL, apart from an empty string. */
export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? 'NULL' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

/**
 * Renders rows as CSV (RFC 4180): fields with commas, quotes or line breaks are quoted. As in
 * PostgreSQL's CSV, NULL is an empty field and an empty string a quoted one (""), so they stay apart.
 */
export function csv(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]!);
  const field = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const text = v instanceof Date ? v.toISOString() : String(v);
    return text === '' || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.map(field).join(','), ...rows.map((r) => columns.map((c) => field(r[c])).join(','))].join('\n');
}
