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
