import type { JsonText } from '../../src/etl/read/json-records.js';
import { type RecordStats, type Reject, validateRecord } from '../../src/etl/read/records.js';
import { RowBuffer } from '../../src/etl/read/row-buffer.js';
import { LINEAGE_COLUMNS, type SourceSpec } from '../../src/types/raw.js';

/** A staged row as binary COPY gives it: cells by staging column (text, numbers, or null). */
export type Cells = Record<string, string | number | null>;

/**
 * Validates one record as staging does and decodes the binary COPY row it writes, by the format's
 * own rules (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"), not the
 * writer's code: cells by column, or the reject.
 */
export function stagedRow(source: SourceSpec, json: JsonText, file: string, stats?: RecordStats): Cells | Reject {
  const chunks: Buffer[] = [];
  const out = new RowBuffer(async (bytes) => void chunks.push(bytes));
  // A copy of the spec: validateRecord makes its code once per spec object, and a fresh one here
  // makes it anew for every record (under mutation testing, with the mutant of that moment).
  const rejected = validateRecord({ ...source }, json, file, stats, out);
  // flush hands over its one buffer before its first await: the bytes are here when it returns.
  void out.flush(true);
  if (rejected) {
    if (chunks.length) throw new Error('a rejected record left bytes in the row buffer');
    return rejected;
  }
  const rows = decodeRows(source, Buffer.concat(chunks));
  if (rows.length !== 1) throw new Error(`one record wrote ${rows.length} rows`);
  return rows[0]!;
}

/** Whether stagedRow gave a reject (no staging table has a "raw" column). */
export const isReject = (out: Cells | Reject): out is Reject => 'raw' in out && 'reason' in out;

/** Decodes binary COPY rows (no header or trailer) of `source`'s staging table. */
export function decodeRows(source: SourceSpec, bytes: Buffer): Cells[] {
  const types = [...source.fields.map((f) => f.type), 'string', 'integer'] as const;
  const columns = [...source.fields.map((f) => f.column), ...LINEAGE_COLUMNS];
  const rows: Cells[] = [];
  let at = 0;
  while (at < bytes.length) {
    const count = bytes.readInt16BE(at);
    at += 2;
    if (count !== columns.length) throw new Error(`a row of ${count} cells, not ${columns.length}`);
    const row: Cells = {};
    for (let i = 0; i < count; i++) {
      const length = bytes.readInt32BE(at);
      at += 4;
      const cell = bytes.subarray(at, at + Math.max(0, length));
      at += Math.max(0, length);
      const type = types[i];
      if (length === -1) row[columns[i]!] = null;
      else if (type === 'string') row[columns[i]!] = cell.toString('utf8');
      else if (type === 'integer' && length === 4) row[columns[i]!] = cell.readInt32BE(0);
      else if (type === 'bigint' && length === 8) row[columns[i]!] = Number(cell.readBigInt64BE(0));
      else if (type === 'double' && length === 8) row[columns[i]!] = cell.readDoubleBE(0);
      else throw new Error(`column ${columns[i]}: ${length} bytes for a ${type}`);
    }
    rows.push(row);
  }
  return rows;
}
