import type { QueryConfig } from 'pg';
import type { Warehouse } from './connection.js';

/** Runs ad-hoc SQL in a read-only transaction, so a typo can never change the warehouse. */
export async function readOnlyQuery(wh: Warehouse, text: string): Promise<Record<string, unknown>[]> {
  const client = await (await wh.pool()).connect();
  try {
    await client.query('begin read only');
    // The extended protocol takes one statement only: no "commit; delete …" escapes the read-only transaction.
    // (@types/pg lags pg here: queryMode exists since pg 8.11.)
    const result = await client.query<Record<string, unknown>>({ text, queryMode: 'extended' } as QueryConfig);
    return result.rows;
  } finally {
    await client.query('rollback').catch(() => {});
    client.release();
  }
}
