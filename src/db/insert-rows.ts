import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { batches } from '../etl/runs/batches.js';
import type { Database } from '../types/database.js';
import type { Warehouse } from './connection.js';

/**
 * Appends rows to a table in their own transaction: COPY FROM STDIN on PostgreSQL (15,000 rows of
 * a file list: 0.5 s as multi-row INSERTs, a few milliseconds as COPY), multi-row INSERTs on
 * Redshift, which takes no COPY from a client. For the run's work tables, written as it goes.
 */
export async function insertRows<T extends keyof Database & string>(wh: Warehouse, table: T, rows: readonly Database[T][]): Promise<void> {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]!) as (keyof Database[T] & string)[];
  if (wh.target === 'redshift') {
    for (const batch of batches(rows, columns.length)) await wh.db.insertInto(table).values(batch as never).execute();
    return;
  }
  const text = rows.map((row) => `${columns.map((c) => copyValue(row[c])).join('\t')}\n`).join('');
  const client = await (await wh.pool()).connect();
  try {
    const copy = client.query(copyFrom(`copy ${pg.escapeIdentifier(table)} (${columns.map((c) => pg.escapeIdentifier(c)).join(', ')}) from stdin`));
    copy.end(text);
    await finished(copy);
  } finally {
    client.release();
  }
}

/** A value in COPY's text format: NULL as \N, text escaped. */
function copyValue(value: unknown): string {
  return value === null || value === undefined ? '\\N' : escapeCopy(String(value));
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Escapes text for COPY's text format: backslash, tab, newline and carriage return. */
export function escapeCopy(text: string): string {
  return NEEDS_ESCAPE.test(text)
    ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : text;
}
