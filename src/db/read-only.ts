import type { FieldDef, QueryConfig } from 'pg';
import type { Warehouse } from './connection.js';

/** A query's result as the server wrote it: every column, in order, even two of one name, and each value as the server's text (NULL as null). */
export interface QueryText {
  fields: Pick<FieldDef, 'name' | 'dataTypeID'>[];
  rows: (string | null)[][];
}

/** Every value as its text: what psql shows, whatever the type (intervals, dates, JSON, arrays). */
const asText = { getTypeParser: () => (value: string) => value };

/** Runs ad-hoc SQL in a read-only transaction, so a typo can never change the warehouse. */
export async function readOnlyQuery(wh: Warehouse, text: string): Promise<QueryText> {
  const client = await (await wh.pool()).connect();
  try {
    await client.query('begin read only');
    // The extended protocol takes one statement only: no "commit; delete …" escapes the read-only transaction.
    // Rows as arrays: as objects, a name given twice ("select * from a join b") would keep one of its columns.
    // (@types/pg lags pg here: queryMode exists since pg 8.11.)
    const result = await client.query({ text, queryMode: 'extended', rowMode: 'array', types: asText } as QueryConfig);
    return { fields: result.fields.map(({ name, dataTypeID }) => ({ name, dataTypeID })), rows: result.rows as (string | null)[][] };
  } finally {
    await client.query('rollback').catch(() => {});
    client.release();
  }
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
