import type { Warehouse } from './connection.js';

/** Another ETL run holds the warehouse. */
export class EtlBusyError extends Error {
  override name = 'EtlBusyError';
}

// An arbitrary constant: the advisory-lock key that every sparkify ETL run takes.
const ETL_LOCK_KEY = 0x5ba2c1f7;

/**
 * Takes the warehouse's ETL lock or fails at once: two runs never interleave, and a second run
 * stops with a clear message rather than queueing behind a long load. On PostgreSQL this is a
 * session advisory lock on a connection held for the run, so a killed run releases it with its
 * connection.
 */
export async function acquireEtlLock(wh: Warehouse, describeHolder: () => Promise<string>): Promise<() => Promise<void>> {
  const client = await (await wh.pool()).connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [ETL_LOCK_KEY]);
    if (!rows[0]?.locked) {
      throw new EtlBusyError(`Another ETL run is loading this warehouse (${await describeHolder()}); wait for it to finish and run again.`);
    }
  } catch (error) {
    client.release();
    throw error;
  }
  return async () => {
    try {
      await client.query('select pg_advisory_unlock($1)', [ETL_LOCK_KEY]);
    } finally {
      client.release();
    }
  };
}
