import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '../../src/config.js';
import { openWarehouse, type Warehouse } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ensureReaderGroup } from '../../src/db/access.js';
import { Kysely, PostgresDialect } from 'kysely';

/** A fresh database on the shared test server: its URL, and a way to drop it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = inject('adminUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** Where a test warehouse runs: PostgreSQL, or the Redshift emulation of either flavour over it. */
export interface TestTarget {
  target?: 'postgres' | 'redshift-emulator';
  flavour?: 'serverless' | 'provisioned';
  /** The S3 stand-in's folder (default: a fresh temporary one). */
  s3Root?: string;
  copyIdOnRollback?: 'kept' | 'restored';
  /** More settings, as environment variables (e.g. REDSHIFT_AUTH=iam, REDSHIFT_USER). */
  env?: Record<string, string>;
  /** IAM logins on the emulation live this long (tests of refreshes). */
  credentialLifetimeMs?: number;
}

/** A migrated warehouse in a fresh database; `close()` destroys it and drops the database. */
export async function openTestWarehouse(
  options: { migrate?: boolean } & TestTarget = {},
): Promise<Warehouse & { url: string; s3Root?: string; close(): Promise<void> }> {
  const { url, drop } = await createTestDatabase();
  const emulated = options.target === 'redshift-emulator';
  const s3Root = emulated ? (options.s3Root ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-s3-')))) : undefined;
  const env = emulated ? { SPARKIFY_TARGET: 'redshift-emulator', SPARKIFY_REDSHIFT_FLAVOUR: options.flavour ?? 'serverless', SPARKIFY_S3_ROOT: s3Root } : {};
  const config: Config = { ...loadConfig({ DATABASE_URL: url, ...env, ...options.env }, '/'), songsDir: '/nonexistent', logsDir: '/nonexistent' };
  if (config.emulator && options.copyIdOnRollback) config.emulator.copyIdOnRollback = options.copyIdOnRollback;
  if (config.emulator) config.emulator.credentialLifetimeMs = options.credentialLifetimeMs;
  // An IAM login is no superuser: an administrator creates the reader group first, as provision does.
  if (config.redshift?.auth === 'iam') await asAdmin(url, (c) => ensureReaderGroup(c));
  const wh = openWarehouse({ config });
  if (options.migrate !== false) await migrateToLatest(wh.db);
  return {
    ...wh,
    url,
    s3Root,
    async close() {
      await wh.destroy();
      await drop();
      if (s3Root && !options.s3Root) await fs.rm(s3Root, { recursive: true, force: true });
    },
  };
}

/** Runs `work` on a Kysely handle logged in as the test server's superuser, on the database at `url`. */
export async function asAdmin<T>(url: string, work: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Drops a login a test made (roles are server-wide, so they outlive the test's database). */
export async function dropRole(role: string): Promise<void> {
  const admin = new pg.Client({ connectionString: inject('adminUrl') });
  await admin.connect();
  await admin.query(`drop role if exists ${pg.escapeIdentifier(role)}`);
  await admin.end();
}

/** A migrated warehouse loaded with the real sample, or with generated data where the sample is absent. */
export async function openLoadedWarehouse(seed: number) {
  const [{ runEtl }, { generate }, { HAS_SAMPLE, SAMPLE_DIR, writeTree }] = await Promise.all([
    import('../../src/etl/pipeline.js'),
    import('../../src/generate/generator.js'),
    import('./files.js'),
  ]);
  let dir = SAMPLE_DIR;
  if (!HAS_SAMPLE) {
    dir = await writeTree({});
    await generate({ out: dir, songs: 60, events: 3000, seed, days: 5 });
  }
  const wh = await openTestWarehouse();
  await runEtl(wh, { songsDir: path.join(dir, 'song_data'), logsDir: path.join(dir, 'log_data') });
  return wh;
}
