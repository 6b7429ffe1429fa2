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
  if (wh.target === 'redshift') return acquireRedshiftLock(wh, describeHolder);
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

const REDSHIFT_LOCK_WAIT_MS = 10_000;

/**
 * Redshift has no advisory locks: a connection holds LOCK on etl_lock in an open transaction for
 * the run (released at its end, or when a killed run's connection drops). LOCK has no NOWAIT, so
 * a statement timeout turns a long wait into the same "busy" failure
 * (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html).
 */
async function acquireRedshiftLock(wh: Warehouse, describeHolder: () => Promise<string>): Promise<() => Promise<void>> {
  const client = await (await wh.pool()).connect();
  try {
    await client.query('begin');
    await client.query(`set statement_timeout to ${REDSHIFT_LOCK_WAIT_MS}`);
    await client.query('lock etl_lock');
    await client.query('set statement_timeout to 0');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    client.release();
    if (/timeout|cancel/i.test((error as Error).message)) {
      throw new EtlBusyError(`Another ETL run is loading this warehouse (${await describeHolder()}); wait for it to finish and run again.`);
    }
    throw error;
  }
  return async () => {
    try {
      await client.query('commit');
    } finally {
      client.release();
    }
  };
}
