import { existsSync } from 'node:fs';
import path from 'node:path';
import { CompiledQuery, type DatabaseConnection, Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { type Config, loadConfig, maskUrl, type RedshiftConfig } from '../config.js';
import type { Database } from '../types/database.js';
import { type CredentialCache, credentialCache } from './credentials.js';
import { startEmbedded } from './embedded.js';
import { emulatedIamClients, LocalCredentialIssuer } from './emulator/credentials.js';
import { awsIamClients, iamMint, type IamClients } from './redshift/iam.js';
import { createPool } from './pool.js';
import { sessionOptions } from './session.js';
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
  /** How many IAM logins were minted so far (0 with passwords). */
  mintedLogins(): number;
  /** Closes connections and stops the embedded server if this process started it. */
  destroy(): Promise<void>;
}

export interface OpenOptions {
  config?: Config;
  /** Open only a warehouse that exists and has the schema (analysts' connect()), never create one. */
  existingOnly?: boolean;
  /** Receives progress lines such as "Initialising the embedded database". */
  log?: (line: string) => void;
  /** A read-only session: every transaction is READ ONLY (analysts' connect({ readOnly: true }), `sparkify query`). */
  readOnly?: boolean;
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
  let credentials: CredentialCache | undefined;
  const makePool = async (): Promise<pg.Pool> => {
    if (redshift && !emulator) {
      const { host, port, database, ssl } = redshift;
      const login = await loginFor(redshift, awsIamClients(redshift.region), (c) => (credentials = c));
      return mintBeforeConnecting(createPool({ host, port, database, ...login, ssl: ssl ? { rejectUnauthorized: true } : false }), credentials);
    }
    if (options.existingOnly && !config.databaseUrl && !existsSync(path.join(config.home, 'pgdata'))) throw new NoWarehouseError(config, 'no embedded warehouse there');
    const pool = config.databaseUrl
      ? createPool({ connectionString: config.databaseUrl, options: sessionOptions() })
      : await embeddedPool(config, log);
    try {
      await checkServerVersion(pool);
      if (options.existingOnly) await checkSchema(pool, config);
    } catch (error) {
      await pool.end();
      throw error;
    }
    if (emulator) {
      const region = redshift?.region ?? 'us-west-2';
      // IAM logins are real roles on the server behind; the emulation's own tables stay the admin's.
      let sessions = pool;
      if (redshift?.auth === 'iam') {
        const issuer = new LocalCredentialIssuer(pool, emulator.identity, emulator.credentialLifetimeMs);
        const login = await loginFor(redshift, emulatedIamClients(issuer, region), (c) => (credentials = c), (u) => issuer.roleFor(u)).catch(async (error) => {
          await pool.end();
          throw error;
        });
        sessions = mintBeforeConnecting(createPool({ ...serverAddress(pool), ...login }), credentials);
      }
      return new RedshiftEmulatorPool(sessions, { ...emulator, region }, sessions === pool ? undefined : pool) as unknown as pg.Pool;
    }
    return pool;
  };
  const pool = () => (pooled ??= makePool());

  // A read-only session: every later transaction is READ ONLY, set before the first query (awaited,
  // so a refusal fails the connection instead of leaving it writable). The statement is the same on
  // both targets; Redshift's page calls it deprecated and does not say how READ ONLY is enforced
  // (https://docs.aws.amazon.com/redshift/latest/dg/r_SET_SESSION_CHARACTERISTICS.html), so the
  // guarantee there is the reader group's privileges; this is the second lock.
  const onCreateConnection = options.readOnly
    ? async (connection: DatabaseConnection) => void (await connection.executeQuery(CompiledQuery.raw('set session characteristics as transaction read only')))
    : undefined;
  const dialectConfig = { pool, onCreateConnection };
  const db = new Kysely<Database>({ dialect: redshift ? new RedshiftDialect(dialectConfig) : new PostgresDialect(dialectConfig), plugins: [new UtcDatesPlugin()] });
  return {
    db,
    target: redshift ? 'redshift' : 'postgres',
    redshift,
    objectStore,
    pool,
    mintedLogins: () => credentials?.minted ?? 0,
    describe: () =>
      emulator
        ? `Redshift emulation (${emulator.flavour}${redshift?.auth === 'iam' ? ', IAM login' : ''}) over ${config.databaseUrl ? maskUrl(config.databaseUrl) : `embedded PostgreSQL in ${config.home}`}`
        : redshift
        ? `Redshift ${redshift.auth === 'iam' ? `(IAM login${redshift.user ? ` as ${redshift.user}` : ''}) ` : `${redshift.user}@`}${redshift.host}:${redshift.port}/${redshift.database}`
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

/**
 * The user and password a pool logs in with: the stored ones, or an IAM login whose password is asked
 * for per new connection, so each connection made late in a long run gets a fresh one.
 */
async function loginFor(
  redshift: RedshiftConfig,
  clients: IamClients,
  keep: (cache: CredentialCache) => void,
  serverUser: (login: string) => string = (login) => login,
): Promise<{ user: string; password: string | (() => Promise<string>) }> {
  if (redshift.auth !== 'iam' || !redshift.iam) return { user: redshift.user, password: redshift.password };
  const cache = credentialCache(iamMint(redshift.iam, clients));
  keep(cache);
  const { user } = await cache.current();
  return {
    user: serverUser(user),
    password: async () => {
      const creds = await cache.current();
      if (creds.user !== user) throw new Error(`the IAM login now maps to database user ${creds.user}, not ${user}: reconnect`);
      return creds.password;
    },
  };
}

/**
 * Refreshes a stale IAM login before a new connection starts rather than during its handshake: a
 * server may read the user's password when the connection opens (PostgreSQL under the emulation does).
 */
function mintBeforeConnecting(pool: pg.Pool, cache: CredentialCache | undefined): pg.Pool {
  if (!cache) return pool;
  const connect = pool.connect.bind(pool) as (cb?: (...args: unknown[]) => void) => Promise<pg.PoolClient> | undefined;
  pool.connect = ((callback?: (...args: unknown[]) => void) => {
    const fresh = cache.current();
    if (!callback) return fresh.then(() => connect());
    fresh.then(() => connect(callback), (error) => callback(error));
    return undefined;
  }) as pg.Pool['connect'];
  return pool;
}

/** Where a pool's server is, without its login (for a second pool that logs in as someone else). */
function serverAddress(pool: pg.Pool): pg.PoolConfig {
  const o = (pool as unknown as { options: pg.PoolConfig }).options;
  if (!o.connectionString) return { host: o.host, port: o.port, database: o.database, options: o.options };
  const u = new URL(o.connectionString);
  return { host: u.hostname, port: Number(u.port || 5432), database: decodeURIComponent(u.pathname.slice(1)), options: o.options };
}


async function embeddedPool(config: Config, log: (line: string) => void): Promise<pg.Pool> {
  const server = await startEmbedded(config.home, log, config.embeddedSettings);
  return createPool(
    { host: server.host, port: server.port, user: server.user, password: server.password, database: server.database, options: sessionOptions() },
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
