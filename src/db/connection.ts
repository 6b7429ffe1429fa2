import { existsSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { type Config, loadConfig, maskUrl, type RedshiftConfig } from '../config.js';
import type { Database } from '../types/database.js';
import { startEmbedded } from './embedded.js';
import { createPool } from './pool.js';
import { LocalS3 } from './emulator/local-s3.js';
import { localObjectStore, type ObjectStore } from './object-store.js';
import { RedshiftEmulatorPool } from './emulator/pool.js';
import { RedshiftDialect } from './redshift/dialect.js';
import type { TargetKind } from './target.js';
import { UtcDatesPlugin } from './utc-dates.js';

/** An open warehouse: the typed Kysely handle plus the raw pool that bulk loads need. */
export interface Warehouse {
  db: Kysely<Database>;
  target: TargetKind;
  /** Redshift's settings (IAM role, S3 staging, region) when the target is Redshift. */
  redshift?: RedshiftConfig;
  /** Where COPY's files go when not to Amazon S3 through the SDK: the emulation's local stand-in. */
  objectStore?: ObjectStore;
  /** The pg pool behind `db`, created (and the embedded server started) on first use. */
  pool(): Promise<pg.Pool>;
  /** Where the warehouse lives, safe to print (passwords masked). */
  describe(): string;
  /** Closes connections and stops the embedded server if this process started it. */
  destroy(): Promise<void>;
}

export interface OpenOptions {
  config?: Config;
  /** Open only a warehouse that exists and has the schema (analysts' connect()), never create one. */
  existingOnly?: boolean;
  /** Receives progress lines such as "Initialising the embedded database". */
  log?: (line: string) => void;
}

const MIN_SERVER_VERSION = 150000; // MERGE arrived in PostgreSQL 15

/** Opens the configured warehouse: `DATABASE_URL` if set, else the embedded server under SPARKIFY_HOME. */
export function openWarehouse(options: OpenOptions = {}): Warehouse {
  const config = options.config ?? loadConfig();
  const log = options.log ?? (() => {});
  let pooled: Promise<pg.Pool> | undefined;

  const redshift = config.target === 'redshift' || config.target === 'redshift-emulator' ? config.redshift : undefined;
  const emulator = config.target === 'redshift-emulator' ? config.emulator : undefined;
  const objectStore = emulator && localObjectStore(new LocalS3(emulator.s3Root));
  const makePool = async (): Promise<pg.Pool> => {
    if (redshift && !emulator) {
      const { host, port, database, user, password, ssl } = redshift;
      return createPool({ host, port, database, user, password, ssl: ssl ? { rejectUnauthorized: true } : false });
    }
    if (options.existingOnly && !config.databaseUrl && !existsSync(path.join(config.home, 'pgdata'))) throw new NoWarehouseError(config, 'no embedded warehouse there');
    const pool = config.databaseUrl
      ? createPool({ connectionString: config.databaseUrl, options: '-c TimeZone=UTC' })
      : await embeddedPool(config.home, log);
    try {
      await checkServerVersion(pool);
      if (options.existingOnly) await checkSchema(pool, config);
    } catch (error) {
      await pool.end();
      throw error;
    }
    if (emulator) {
      const region = redshift?.region ?? 'us-west-2';
      return new RedshiftEmulatorPool(pool, { ...emulator, region }) as unknown as pg.Pool;
    }
    return pool;
  };
  const pool = () => (pooled ??= makePool());

  const db = new Kysely<Database>({ dialect: redshift ? new RedshiftDialect({ pool }) : new PostgresDialect({ pool }), plugins: [new UtcDatesPlugin()] });
  return {
    db,
    target: redshift ? 'redshift' : 'postgres',
    redshift,
    objectStore,
    pool,
    describe: () =>
      emulator
        ? `Redshift emulation (${emulator.flavour}) over ${config.databaseUrl ? maskUrl(config.databaseUrl) : `embedded PostgreSQL in ${config.home}`}`
        : redshift
        ? `Redshift ${redshift.user}@${redshift.host}:${redshift.port}/${redshift.database}`
        : config.databaseUrl
          ? maskUrl(config.databaseUrl)
          : `embedded PostgreSQL in ${config.home}`,
    async destroy() {
      // Kysely only ends the pool if it ever used it; a pool made for COPY alone is ours to end.
      await db.destroy();
      // A pool that failed to start has nothing to close.
      await pooled?.then((p) => p.end().catch(() => {}), () => {});
    },
  };
}

async function embeddedPool(home: string, log: (line: string) => void): Promise<pg.Pool> {
  const server = await startEmbedded(home, log);
  return createPool(
    { host: server.host, port: server.port, user: server.user, password: server.password, database: server.database },
    () => server.stop(),
  );
}

/** connect() found no warehouse; the message says where it looked and how to point elsewhere. */
export class NoWarehouseError extends Error {
  override name = 'NoWarehouseError';
  constructor(config: Config, why: string) {
    const where = config.databaseUrl ? `DATABASE_URL (${maskUrl(config.databaseUrl)})` : `${config.home} (SPARKIFY_HOME, default ./.sparkify)`;
    super(
      `No Sparkify warehouse at ${where}: ${why}. Load one there first (npm run etl), or point at yours with ` +
        'SPARKIFY_HOME=<folder of the warehouse>, DATABASE_URL=postgres://…, or connect({ home: "<folder>" }).',
    );
  }
}

async function checkSchema(pool: pg.Pool, config: Config): Promise<void> {
  const { rows } = await pool.query<{ t: string | null }>(`select to_regclass('songplays')::text as t`);
  if (!rows[0]?.t) throw new NoWarehouseError(config, 'the database has no star schema (run npm run migrate:latest or npm run etl)');
}

async function checkServerVersion(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ v: string }>(`select current_setting('server_version_num') as v`);
  const version = Number(rows[0]?.v);
  if (!(version >= MIN_SERVER_VERSION)) {
    throw new Error(`PostgreSQL ${Math.floor(version / 10000)} is too old: the warehouse needs PostgreSQL 15 or later (for MERGE).`);
  }
}
