/**
 * Sparkify DWH for notebooks and scripts: `connect()` to the configured warehouse and ask it
 * typed questions.
 *
 *   import { connect, topSongs } from 'sparkify-dwh';
 *   const db = connect();
 *   console.table(await topSongs(db, { limit: 5 }));
 *   await db.destroy();
 */
import path from 'node:path';
import type { Kysely } from 'kysely';
import { type Config, loadConfig } from './config.js';
import { openWarehouse } from './db/connection.js';
import type { Database } from './types/database.js';

export interface ConnectOptions {
  /** The embedded warehouse's folder (as SPARKIFY_HOME), resolved from the current directory. */
  home?: string;
  /** Overrides of the environment's configuration (SPARKIFY_HOME, DATABASE_URL). */
  config?: Partial<Config>;
  /** Receives lines such as "Embedded PostgreSQL listening on …". */
  log?: (line: string) => void;
  /** Every transaction READ ONLY: the session can never change the warehouse (for analysts; pair it with a sparkify_reader login). */
  readOnly?: boolean;
}

/**
 * A typed Kysely handle on the configured warehouse; close it with `destroy()` (which also stops an
 * embedded server). It only opens a warehouse that exists: where there is none (no embedded server's
 * data, or a database without the schema) the first query fails saying where it looked and how to
 * point at the right one, instead of creating an empty warehouse in the current folder.
 */
export function connect(options: ConnectOptions = {}): Kysely<Database> {
  const config = { ...loadConfig(), ...options.config };
  if (options.home) config.home = path.resolve(options.home);
  return openWarehouse({ config, log: options.log, existingOnly: true, readOnly: options.readOnly }).db;
}

export * from './queries/index.js';
export { runChecks, WAREHOUSE_CHECKS, type Check, type CheckResult } from './etl/checks.js';
export { runEtl, type EtlOptions, type EtlSummary } from './etl/pipeline.js';
export { openWarehouse, type Warehouse } from './db/connection.js';
export { migrateToLatest } from './db/migrate.js';
export { loadConfig, type Config } from './config.js';
export type * from './types/database.js';
export type { RawEvent, RawSong } from './types/raw.js';
