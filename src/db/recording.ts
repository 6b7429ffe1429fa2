import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type pg from 'pg';
import type { Config } from '../config.js';
import type { Database } from '../types/database.js';
import type { Warehouse } from './connection.js';
import type { ObjectStore } from './object-store.js';
import { RedshiftDialect } from './redshift/dialect.js';
import { UtcDatesPlugin } from './utc-dates.js';

/** A statement that would have run, with its parameters. */
export interface RecordedStatement {
  sql: string;
  parameters: readonly unknown[];
}

/**
 * A Redshift warehouse that runs nothing: every statement, from Kysely or from the raw pool
 * (locks, COPY), is recorded, and answered as described at `empty` below. `sparkify plan` runs the real
 * migrations and ETL code against it, so the plan is exactly what they would send.
 */
export function recordingWarehouse(config: Config): Warehouse & { statements: RecordedStatement[] } {
  const statements: RecordedStatement[] = [];
  const record = (sql: string, parameters: readonly unknown[] = []) => statements.push({ sql, parameters });
  // Queries find no rows, and every write changes one: the plan is that of a first load, where
  // each MERGE inserts and the steps that follow a change (ANALYZE, linking late songs) run too.
  const empty: QueryResult<any> = { rows: [], numAffectedRows: 1n, numChangedRows: 1n };

  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      record(query.sql, query.parameters);
      return empty as QueryResult<R>;
    },
    async *streamQuery() {},
  };
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      return connection;
    },
    async beginTransaction(_c: DatabaseConnection, _s: TransactionSettings) {
      record('begin');
    },
    async commitTransaction() {
      record('commit');
    },
    async rollbackTransaction() {
      record('rollback');
    },
    async releaseConnection() {},
    async destroy() {},
  };
  const dialect = new RedshiftDialect({ pool: async () => ({}) as never });
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => dialect.createAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => dialect.createIntrospector(k),
      createQueryCompiler: () => dialect.createQueryCompiler(),
    },
    plugins: [new UtcDatesPlugin()],
  });
  const client = {
    async query(text: string | { text: string }, values?: unknown[]) {
      record(typeof text === 'string' ? text : text.text, values);
      return { rows: [], rowCount: 0 };
    },
    release() {},
  };
  const pool = { connect: async () => client, query: client.query, end: async () => {} } as unknown as pg.Pool;
  // S3 is not touched either: an upload shows in the plan where it would happen; nothing exists yet.
  const objectStore: ObjectStore = {
    head: async () => undefined,
    put: async (uri) => void record(`-- upload ${uri}`),
    get: async () => Buffer.alloc(0),
    bucketRegion: async () => undefined,
  };
  return {
    db,
    target: 'redshift',
    redshift: config.redshift,
    objectStore,
    pool: async () => pool,
    describe: () => 'Redshift (plan only: nothing is sent)',
    mintedLogins: () => 0,
    destroy: async () => {},
    statements,
  };
}
