/**
 * Sparkify DWH for notebooks and scripts: `connect()` to the configured warehouse and ask it
 * typed questions.
 *
 *   import { connect, topSongs } from 'sparkify-dwh';
 *   const db = connect();
 *   console.table(await topSongs(db, { limit: 5 }));
 *   await db.destroy();
 */
import type { Kysely } from 'kysely';
import { type Config, loadConfig } from './config.js';
import { openWarehouse } from './db/connection.js';
import type { Database } from './types/database.js';

export interface ConnectOptions {
  /** Overrides of the environment's configuration (SPARKIFY_HOME, DATABASE_URL). */
  config?: Partial<Config>;
  /** Receives lines such as "Embedded PostgreSQL listening on …". */
  log?: (line: string) => void;
}

/** A typed Kysely handle on the configured warehouse; close it with `destroy()` (which also stops an embedded server). */
export function connect(options: ConnectOptions = {}): Kysely<Database> {
  return openWarehouse({ config: { ...loadConfig(), ...options.config }, log: options.log }).db;
}

export * from './queries/index.js';
export { runChecks, WAREHOUSE_CHECKS, type Check, type CheckResult } from './etl/checks.js';
export { runEtl, type EtlOptions, type EtlSummary } from './etl/pipeline.js';
export { openWarehouse, type Warehouse } from './db/connection.js';
export { migrateToLatest } from './db/migrate.js';
export { loadConfig, type Config } from './config.js';
export type * from './types/database.js';
export type { RawEvent, RawSong } from './types/raw.js';
