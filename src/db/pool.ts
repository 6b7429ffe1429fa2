import pg from 'pg';

// OIDs of the types whose default pg parsing we change.
const INT8 = 20;
const NUMERIC = 1700;
const TIMESTAMP = 1114;

/** BIGINT and COUNT(*) arrive as JS numbers; warehouse counts and epoch millis fit in 2^53. */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`BIGINT ${value} does not fit in a JS number`);
  return n;
}

/** Timestamps without zone hold UTC in this warehouse, whatever the client's time zone. */
function parseUtcTimestamp(value: string): Date {
  return new Date(`${value.replace(' ', 'T')}Z`);
}

/** Per-pool type parsers, so importing this package never changes pg's global behaviour. */
export const warehouseTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): any {
    if (oid === INT8) return parseInt8;
    if (oid === NUMERIC) return Number;
    if (oid === TIMESTAMP) return parseUtcTimestamp;
    return pg.types.getTypeParser(oid, format);
  },
};

/** Creates a pg pool with the warehouse's type parsers and a UTC session time zone. */
export function createPool(config: pg.PoolConfig, onEnd?: () => Promise<void>): pg.Pool {
  // 4: a run holds one connection for its lock and two while staging (a table each); the file queue's reads and the counts' writes share the last.
  const pool = new pg.Pool({ max: 4, ...config, types: warehouseTypes });
  // An idle connection that the server closes (e.g. at shutdown) is dropped from the pool; without a
  // listener, pg would raise it as an uncaught error.
  pool.on('error', () => {});
  if (onEnd) {
    const end = pool.end.bind(pool);
    // Ending the pool is how Kysely's destroy() reaches us: stop the server we started with it.
    pool.end = (async () => {
      await end();
      await onEnd();
    }) as typeof pool.end;
  }
  return pool;
}
