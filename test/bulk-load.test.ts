import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openWarehouse, type Warehouse } from '../src/db/connection.js';
import { SESSION_SETTINGS } from '../src/db/session.js';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { STAR_TABLES } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';

/** The star tables' primary keys and unique constraints, as the catalogue describes them. */
async function constraints(db: Warehouse['db']) {
  const { rows } = await sql<{ table: string; name: string; definition: string }>`
    select conrelid::regclass::text as "table", conname as name, pg_get_constraintdef(oid) as definition
    from pg_constraint where contype in ('p', 'u') and conrelid::regclass::text = any(${[...STAR_TABLES, '"time"']})
    order by 1, 2`.execute(db);
  return rows;
}

/** Every star table's rows, in key order, without songplay_id (which differs between two loads only by where its sequence stood). */
async function star(db: Warehouse['db']) {
  const out: Record<string, unknown[]> = {};
  for (const t of STAR_TABLES) {
    const { rows } = await sql`select * from ${sql.table(t)}`.execute(db);
    out[t] = rows.map(({ songplay_id: _, ...r }: any) => JSON.stringify(r)).sort();
  }
  return out;
}

describe("PostgreSQL's bulk path for a first load", () => {
  let data: string;
  const half = (dir: string) => ({ songsDir: path.join(dir, 'half/song_data'), logsDir: path.join(dir, 'half/log_data') });
  const all = (dir: string) => ({ songsDir: path.join(dir, 'all/song_data'), logsDir: path.join(dir, 'all/log_data') });
  beforeAll(async () => {
    data = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-bulk-'));
    await generate({ out: path.join(data, 'all'), songs: 120, events: 3000, seed: 7, days: 4 });
    // A first load of half the days and songs, then the rest as an incremental run.
    await fs.cp(path.join(data, 'all'), path.join(data, 'half'), { recursive: true, preserveTimestamps: true });
    const songFiles = (await fs.readdir(path.join(data, 'half/song_data'), { recursive: true })).filter((f) => f.endsWith('.json')).sort();
    for (const f of songFiles.filter((_, i) => i % 2)) await fs.rm(path.join(data, 'half/song_data', f));
    for (const day of ['03', '04']) await fs.rm(path.join(data, `half/log_data/2018/11/2018-11-${day}-events.json`));
  });
  afterAll(() => fs.rm(data, { recursive: true, force: true }));

  it('rebuilds every unique constraint it set aside, and gives the tables a MERGE load gives', async () => {
    const bulk = await openTestWarehouse();
    const merged = await openTestWarehouse();
    try {
      const migrated = await constraints(bulk.db);
      expect(migrated.map((c) => c.name)).toEqual(expect.arrayContaining(['songplays_pkey', 'songplays_natural_key', 'time_pkey', 'users_pkey', 'songs_pkey', 'artists_pkey']));
      // Everything in one first load: the bulk path for every table.
      const first = await runEtl(bulk, all(data));
      expect(await constraints(bulk.db)).toEqual(migrated);
      expect(first.transform.songplays.inserted).toBe(first.tables.songplays);
      expect(first.transform.time).toEqual({ inserted: first.tables.time, updated: 0 });

      // The same files in two runs: the second merges into tables that have rows.
      await runEtl(merged, half(data));
      const second = await runEtl(merged, all(data));
      expect(second.transform.songplays.inserted).toBeGreaterThan(0);
      expect(await star(merged.db)).toEqual(await star(bulk.db));

      // The rebuilt constraints hold: a duplicate natural key is refused.
      const play = await bulk.db.selectFrom('songplays').selectAll().orderBy('songplay_id').executeTakeFirstOrThrow();
      const { songplay_id: _, ...copy } = play;
      await expect(bulk.db.insertInto('songplays').values(copy).execute()).rejects.toThrow(/songplays_natural_key/);
    } finally {
      await bulk.close();
      await merged.close();
    }
  });

  it('empties each table in the load\'s transaction, so that its rows skip WAL, but not one a foreign key references', async () => {
    const wh = await openTestWarehouse();
    try {
      const { rows: level } = await sql<{ wal_level: string }>`show wal_level`.execute(wh.db);
      expect(level[0]?.wal_level).toBe('minimal');
      // A user's own table referencing time: TRUNCATE of time, or dropping the key the reference needs, would fail the run.
      await sql`create table listening_notes (start_time timestamp references "time" (start_time))`.execute(wh.db);
      const fileNodes = async () => {
        const { rows } = await sql<{ t: string; node: string }>`
          select t, pg_relation_filenode(t)::text as node from unnest(${[...STAR_TABLES]}::text[]) as t order by t`.execute(wh.db);
        return Object.fromEntries(rows.map((r) => [r.t, r.node]));
      };
      const before = await fileNodes();
      await runEtl(wh, all(data));
      const after = await fileNodes();
      // TRUNCATE gives a table a new file: every star table but time was emptied in the run.
      for (const t of STAR_TABLES) expect([t, after[t] === before[t]]).toEqual([t, t === 'time']);
      expect((await constraints(wh.db)).map((c) => c.name)).toContain('time_pkey');
      // A second load merges: no table is emptied again.
      await runEtl(wh, { ...all(data), fullRefresh: true });
      expect(await fileNodes()).toEqual(after);
    } finally {
      await wh.close();
    }
  });

  it('locks a table a foreign key references for its load too (no TRUNCATE or dropped key does it there): it waits for a reader already in the table', async () => {
    const wh = await openTestWarehouse();
    const reader = new pg.Client({ connectionString: wh.url });
    await reader.connect();
    try {
      await sql`create table listening_notes (start_time timestamp references "time" (start_time))`.execute(wh.db);
      // A reader's open transaction holds ACCESS SHARE on time until it commits: an ACCESS EXCLUSIVE
      // request must wait for it (an INSERT's ROW EXCLUSIVE would not).
      await reader.query('begin');
      expect((await reader.query('select count(*)::int as n from "time"')).rows).toEqual([{ n: 0 }]);
      let finished = false;
      const run = runEtl(wh, all(data)).finally(() => {
        finished = true;
      });
      let waiting = false;
      while (!finished && !waiting) {
        const { rows } = await reader.query(`select 1 from pg_locks where relation = '"time"'::regclass and mode = 'AccessExclusiveLock' and not granted`);
        waiting = rows.length > 0;
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await reader.query('commit');
      const summary = await run;
      expect(waiting).toBe(true);
      expect(summary.transform.time.inserted).toBeGreaterThan(0);
    } finally {
      await reader.end();
      await wh.close();
    }
  });

  it('numbers songplays in natural-key order, as the MERGE path does', async () => {
    const wh = await openTestWarehouse();
    try {
      await runEtl(wh, all(data));
      const ids = await wh.db.selectFrom('songplays').select(['songplay_id', 'start_time', 'session_id', 'item_in_session']).orderBy('songplay_id').execute();
      const byKey = [...ids].sort((a, b) => +a.start_time - +b.start_time || a.session_id - b.session_id || a.item_in_session - b.item_in_session);
      expect(ids).toEqual(byKey);
    } finally {
      await wh.close();
    }
  });
});

describe('what the ETL asks of the server', () => {
  it('sets its memory and planner settings per session, over the server defaults', async () => {
    const wh = await openTestWarehouse({ migrate: false });
    try {
      for (const [name, value] of Object.entries(SESSION_SETTINGS)) {
        const { rows } = await sql<{ setting: string; source: string }>`select current_setting(${name}) as setting, source from pg_settings where name = ${name}`.execute(wh.db);
        expect({ name, ...rows[0] }).toEqual({ name, setting: value, source: 'client' });
      }
    } finally {
      await wh.close();
    }
  });

  it("starts the embedded server with PostgreSQL's defaults when asked for stock settings, and the sessions still get theirs", async () => {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-stock-'));
    await fs.chmod(home, 0o755);
    const wh = openWarehouse({ config: loadConfig({ SPARKIFY_HOME: home, SPARKIFY_EMBEDDED_SETTINGS: 'stock' }) });
    try {
      const { rows } = await sql<{ name: string; setting: string; source: string }>`
        select name, current_setting(name) as setting, source from pg_settings where name in ('max_wal_size', 'shared_buffers', 'work_mem') order by name`.execute(wh.db);
      // initdb writes PostgreSQL's defaults for these two into postgresql.conf; the tuned server sets them on its command line.
      expect(rows).toEqual([
        { name: 'max_wal_size', setting: '1GB', source: 'configuration file' },
        { name: 'shared_buffers', setting: '128MB', source: 'configuration file' },
        { name: 'work_mem', setting: '256MB', source: 'client' },
      ]);
    } finally {
      await wh.destroy();
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});
