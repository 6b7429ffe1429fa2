import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { Config } from '../../src/config.js';
import { openWarehouse, type Warehouse } from '../../src/db/connection.js';
import { migrateToLatest } from '../../src/db/migrate.js';

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

/** A migrated warehouse in a fresh database; `close()` destroys it and drops the database. */
export async function openTestWarehouse(options: { migrate?: boolean } = {}): Promise<Warehouse & { url: string; close(): Promise<void> }> {
  const { url, drop } = await createTestDatabase();
  const config: Config = { home: '/nonexistent', databaseUrl: url, songsDir: '/nonexistent', logsDir: '/nonexistent' };
  const wh = openWarehouse({ config });
  if (options.migrate !== false) await migrateToLatest(wh.db);
  return {
    ...wh,
    url,
    async close() {
      await wh.destroy();
      await drop();
    },
  };
}
