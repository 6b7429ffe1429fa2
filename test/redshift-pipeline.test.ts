import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { finishRun, startRun, truncateBytes } from '../src/etl/runs/runs.js';
import { RejectBudgetError } from '../src/etl/stage/postgres.js';
import { STAR_TABLES } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';
import { event, HAS_SAMPLE, SAMPLE_DIR, song, writeTree } from './helpers/files.js';
import { undoLatin1 } from './helpers/expected.js';
import { starSnapshot } from './helpers/snapshot.js';

const BAD_LOGS = path.resolve(import.meta.dirname, 'fixtures/bad-logs');
type TestWarehouse = Awaited<ReturnType<typeof openTestWarehouse>>;

/** Copies a local folder into the S3 stand-in at s3://bucket/prefix. */
async function putTree(s3Root: string, dir: string, bucket: string, prefix: string): Promise<string> {
  await fs.cp(dir, path.join(s3Root, bucket, prefix), { recursive: true });
  return `s3://${bucket}/${prefix}`;
}

const bookkeeping = ['loaded_files', 'load_errors', 'etl_run_files', 'etl_runs'] as const;
async function empty(wh: TestWarehouse) {
  for (const t of [...STAR_TABLES, ...bookkeeping]) await wh.db.deleteFrom(t).execute();
}

// Both flavours, and both readings of PG_LAST_COPY_ID's page on a rolled-back COPY (see EmulatorOptions).
describe.each([
  ['serverless', 'kept'],
  ['provisioned', 'restored'],
] as const)('the whole pipeline on the Redshift emulation (%s, COPY id %s on rollback)', (flavour, copyIdOnRollback) => {
  let pg: TestWarehouse;
  let rs: TestWarehouse;
  beforeAll(async () => {
    [pg, rs] = await Promise.all([openTestWarehouse(), openTestWarehouse({ target: 'redshift-emulator', flavour, copyIdOnRollback })]);
  });
  afterAll(async () => {
    await Promise.all([pg?.close(), rs?.close()]);
  });

  describe.skipIf(!HAS_SAMPLE)('the real sample', () => {
    const songsDir = path.join(SAMPLE_DIR, 'song_data');
    const logsDir = path.join(SAMPLE_DIR, 'log_data');

    it('gives the same star tables, row for row, as the PostgreSQL target; a rerun writes nothing', async () => {
      await Promise.all([empty(pg), empty(rs)]);
      const [a, b] = [await runEtl(pg, { songsDir, logsDir }), await runEtl(rs, { songsDir, logsDir })];
      expect(b.staged).toEqual(a.staged);
      expect(b.tables).toEqual(a.tables);
      expect(b.transform).toEqual(a.transform);
      expect(b.tables.songplays).toBeGreaterThan(6000);
      expect(await starSnapshot(rs.db)).toEqual(await starSnapshot(pg.db));
      // Per-file counts are recorded as on PostgreSQL (the files were validated before upload).
      const files = await rs.db.selectFrom('etl_run_files').select((eb) => eb.fn.sum<number>('records_read').as('n')).executeTakeFirst();
      expect(Number(files?.n)).toBe(71 + b.staged.events);

      const again = await runEtl(rs, { songsDir, logsDir, fullRefresh: true });
      for (const t of STAR_TABLES) expect(again.transform[t]).toMatchObject({ inserted: 0, updated: 0 });
      expect(await starSnapshot(rs.db)).toEqual(await starSnapshot(pg.db));
    });

    it('loads the same from s3:// inputs in the S3 stand-in (the JSONPaths file is written for them)', async () => {
      // The PostgreSQL target's load of the same files, for comparison (made here: no test relies on another's state).
      await Promise.all([empty(pg), empty(rs)]);
      await runEtl(pg, { songsDir, logsDir });
      const songs = await putTree(rs.s3Root!, songsDir, 'udacity-dend', 'song_data');
      const logs = await putTree(rs.s3Root!, logsDir, 'udacity-dend', 'log_data');
      const summary = await runEtl(rs, { songsDir: songs, logsDir: logs });
      expect(summary.staged).toEqual({ songs: 71, events: 8056 });
      // COPY takes the objects as they are: the only difference is the names that local staging
      // repairs (UTF-8 read as Latin-1), which stay as the logs have them.
      const repairTexts = (rows: object[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' ? undoLatin1(v) : v])));
      const [remote, local] = [await starSnapshot(rs.db), await starSnapshot(pg.db)];
      for (const t of STAR_TABLES) expect(repairTexts(remote[t]), t).toEqual(local[t]);
      expect(remote.songplays.filter((p) => p.artist_name === 'BjÃ\u0083Â¶rk')).toHaveLength(33);
    });
  });

  it('a second run that changes and adds rows gives the same counts and star tables on both targets (the emulation runs a MERGE that updates and inserts)', async () => {
    const play = (day: number, item: number, level: string, extra: Record<string, unknown> = {}) =>
      event({ ts: 1541990000000 + day * 86400000 + item, page: 'NextSong', sessionId: day, itemInSession: item, userId: '7', level, song: 'Alpha', artist: 'Art', length: 100, ...extra });
    const songs = await writeTree({ 'A/a.json': song({ song_id: 'SOA', title: 'Alpha', duration: 100, artist_name: 'Art' }) });
    const day1 = [play(1, 1, 'free'), play(1, 2, 'free')].join('\n');
    const results = [];
    for (const wh of [pg, rs]) {
      const logs = await writeTree({ '2018/11/01.json': day1 });
      await empty(wh);
      const first = await runEtl(wh, { songsDir: songs, logsDir: logs });
      expect(first.transform.songplays).toEqual({ inserted: 2, updated: 0, linked: 0 });
      // Day 1 edited (a play's agent changed) and day 2 new (the user went paid): updates and inserts in one run.
      await fs.writeFile(path.join(logs, '2018/11/01.json'), [play(1, 1, 'free', { userAgent: 'edited' }), play(1, 2, 'free')].join('\n'));
      await fs.writeFile(path.join(logs, '2018/11/02.json'), [play(2, 1, 'paid'), play(2, 2, 'paid')].join('\n'));
      const second = await runEtl(wh, { songsDir: songs, logsDir: logs });
      expect(second.transform.songplays).toEqual({ inserted: 2, updated: 1, linked: 0 });
      expect(second.transform.users).toEqual({ inserted: 0, updated: 1 });
      expect(second.transform.time).toEqual({ inserted: 2, updated: 0 });
      results.push(await starSnapshot(wh.db));
    }
    expect(results[1]).toEqual(results[0]);
    expect((results[0] as Awaited<ReturnType<typeof starSnapshot>>).songplays).toHaveLength(4);
  });

  describe('bad records', () => {
    it('local files: the same rejects (file, line, reason, raw) and the same plays as on PostgreSQL', async () => {
      await Promise.all([empty(pg), empty(rs)]);
      const noSongs = await writeTree({});
      const a = await runEtl(pg, { songsDir: noSongs, logsDir: BAD_LOGS, maxErrors: 7 });
      const b = await runEtl(rs, { songsDir: noSongs, logsDir: BAD_LOGS, maxErrors: 7 });
      const rejects = (wh: TestWarehouse) => wh.db.selectFrom('load_errors').select(['file', 'line', 'reason', 'raw']).orderBy('file').orderBy('line').execute();
      expect(b.rejected).toBe(7);
      expect(await rejects(rs)).toEqual(await rejects(pg));
      expect(await starSnapshot(rs.db)).toEqual(await starSnapshot(pg.db));
      expect(a.tables.songplays).toBe(b.tables.songplays);
    });

    it('local files: --max-errors N tolerates exactly N, and past it the warehouse is left as it was', async () => {
      await empty(rs);
      const before = await starSnapshot(rs.db);
      const noSongs = await writeTree({});
      const error = await runEtl(rs, { songsDir: noSongs, logsDir: BAD_LOGS, maxErrors: 6 }).catch((e) => e);
      expect(error).toBeInstanceOf(RejectBudgetError);
      expect((error as RejectBudgetError).rejects).toHaveLength(7);
      expect(await starSnapshot(rs.db)).toEqual(before);
    });

    it('s3:// inputs: COPY rejects past the budget are reported with file, line, reason and raw text, not "transaction aborted"', async () => {
      await empty(rs);
      const songs = await putTree(rs.s3Root!, await writeTree({ 'a.json': song({ song_id: 'SOBAD1', year: 'nineteen' }) }), 'raw-data', 'bad1/songs');
      const logs = await putTree(
        rs.s3Root!,
        await writeTree({ 'x.json': [event({ ts: 1, page: 'NextSong', song: 'S', artist: 'A', length: 1 }), '{"page": "Home", "ts": "soon"}', event({ ts: 3, level: 'x'.repeat(17) })].join('\n') }),
        'raw-data',
        'bad1/logs',
      );
      const error = await runEtl(rs, { songsDir: songs, logsDir: logs, maxErrors: 2 }).catch((e) => e);
      expect(error).toBeInstanceOf(RejectBudgetError);
      const reported = (error as RejectBudgetError).rejects.map((r) => [r.file, r.line, r.reason.replace(/^column (\w+):.*/, '$1')]);
      expect(reported).toEqual([
        ['s3://raw-data/bad1/songs/a.json', 1, 'year'],
        ['s3://raw-data/bad1/logs/x.json', 2, 'ts'],
        ['s3://raw-data/bad1/logs/x.json', 3, 'level'],
      ]);
      expect((error as RejectBudgetError).rejects[1]!.raw).toBe('{"page": "Home", "ts": "soon"}');
      expect(await rs.db.selectFrom('songplays').selectAll().execute()).toEqual([]);
      // The failed run kept its rejects.
      expect(await rs.db.selectFrom('load_errors').select('line').execute()).toHaveLength(3);
    });

    it('s3:// inputs: within the budget each COPY reports its own rejects once (a clean COPY after one with rejects reports none)', async () => {
      await empty(rs);
      const songs = await putTree(rs.s3Root!, await writeTree({ 'a.json': song({ song_id: 'SOBAD2', year: 'x' }), 'b.json': song({ song_id: 'SOOK' }) }), 'raw-data', 'ok2/songs');
      const logs = await putTree(rs.s3Root!, await writeTree({ 'x.json': [event({ ts: 1 }), event({ ts: 2 })].join('\n') }), 'raw-data', 'ok2/logs');
      const summary = await runEtl(rs, { songsDir: songs, logsDir: logs, maxErrors: 2 });
      expect(summary.rejects.map((r) => [r.file, r.line])).toEqual([['s3://raw-data/ok2/songs/a.json', 1]]);
      expect(summary.staged).toEqual({ songs: 1, events: 2 });
    });
  });

  it('s3:// inputs: records that COPY takes but our rules refuse are rejected as the local target rejects them', async () => {
    await Promise.all([empty(pg), empty(rs)]);
    const records = [
      event({ ts: 1, userId: '12' }),
      event({ ts: 2, userId: '' }),
      event({ ts: 3, userId: 'abc' }),
      event({ ts: 4, userId: '1234567890' }),
      event({ ts: 5, page: 'NextSong', sessionId: null, song: 'S', artist: 'A', length: 1 }),
      event({ ts: 6, page: 'NextSong', itemInSession: 3, song: 'S', artist: 'A', length: 1 }),
    ];
    const dir = await writeTree({ 'x.json': records.join('\n') });
    const noSongs = await writeTree({ 'a.json': song({}) });
    const local = await runEtl(pg, { songsDir: noSongs, logsDir: dir, maxErrors: 10 });
    const logs = await putTree(rs.s3Root!, dir, 'raw-data', 'rules/logs');
    const songs = await putTree(rs.s3Root!, noSongs, 'raw-data', 'rules/songs');
    const remote = await runEtl(rs, { songsDir: songs, logsDir: logs, maxErrors: 10 });
    const tsOf = (raw: string) => JSON.parse(raw).ts;
    expect(remote.rejects.map((r) => [tsOf(r.raw), r.reason.replace(/ \(COPY from S3 keeps no line numbers\)$/, '')]).sort()).toEqual(
      local.rejects.map((r) => [tsOf(r.raw), r.reason.replace(/ but is .*$/, '')]).sort(),
    );
    expect(local.rejects.map((r) => tsOf(r.raw)).sort()).toEqual([3, 4, 5]);
    expect(remote.staged).toEqual(local.staged);
    expect(await starSnapshot(rs.db)).toEqual(await starSnapshot(pg.db));
  });

  it("takes COPY's REGION from the data's bucket, and refuses a staging bucket in another region", async () => {
    await empty(rs);
    await fs.writeFile(path.join(rs.s3Root!, '.regions.json'), JSON.stringify({ 'east-data': 'us-east-1' }));
    const logs = await putTree(rs.s3Root!, await writeTree({ 'x.json': event({ ts: 1 }) }), 'east-data', 'logs');
    const songs = await putTree(rs.s3Root!, await writeTree({ 'a.json': song({}) }), 'east-data', 'songs');
    // Songs use 'auto' (no JSONPaths file): the COPY runs with REGION 'us-east-1' where the cluster is in us-west-2.
    // Events need the JSONPaths file, kept in the staging bucket (us-west-2): refused with the reason.
    await expect(runEtl(rs, { songsDir: songs, logsDir: logs })).rejects.toThrow(/is in us-east-1 but SPARKIFY_S3_STAGING .* is in us-west-2/);
    await fs.rm(path.join(rs.s3Root!, '.regions.json'));
  });

  it('stores error texts cut to their VARCHAR size in bytes', async () => {
    const runId = '00000000-0000-4000-8000-000000000001';
    await startRun(rs.db, runId, {});
    await finishRun(rs.db, runId, 'failed', new Error('é'.repeat(3000))); // 6,000 bytes into VARCHAR(4096)
    const row = await rs.db.selectFrom('etl_runs').select('error').where('run_id', '=', runId).executeTakeFirstOrThrow();
    expect(Buffer.byteLength(row.error!)).toBeLessThanOrEqual(4096);
    expect(row.error).toMatch(/^é+$/);
    expect(truncateBytes('aé', 2)).toBe('a');
  });
});

describe('which duplicate wins does not depend on file order or target', () => {
  const songA = song({ song_id: 'SODUP', title: 'Alpha', duration: 100 });
  const songB = song({ song_id: 'SODUP', title: 'Beta', duration: 100 });
  const playA = event({ ts: 1541990000000, page: 'NextSong', sessionId: 5, itemInSession: 1, level: 'free', song: 'X', artist: 'Y', length: 1 });
  const playB = event({ ts: 1541990000000, page: 'NextSong', sessionId: 5, itemInSession: 1, level: 'paid', song: 'X', artist: 'Y', length: 1 });
  const winners: unknown[] = [];

  it.each([
    ['postgres', 'A first'],
    ['postgres', 'B first'],
    ['redshift-emulator', 'A first'],
    ['redshift-emulator', 'B first'],
  ] as const)('%s, %s', async (target, order) => {
    const [first, second] = order === 'A first' ? [[songA, playA], [songB, playB]] : [[songB, playB], [songA, playA]];
    const songs = await writeTree({ 'A/one.json': first[0]!, 'B/two.json': second[0]! });
    const logs = await writeTree({ '2018/11/01.json': first[1]!, '2018/11/02.json': second[1]! });
    const wh = await openTestWarehouse({ target });
    try {
      await runEtl(wh, { songsDir: songs, logsDir: logs });
      const winner = {
        song: await wh.db.selectFrom('songs').select(['title']).execute(),
        play: await wh.db.selectFrom('songplays').select(['level']).execute(),
      };
      expect(winner.song).toHaveLength(1);
      expect(winner.play).toHaveLength(1);
      winners.push(winner);
      // The record that sorts last by content wins: title "Beta" over "Alpha", level "paid" over "free".
      expect(winner).toEqual({ song: [{ title: 'Beta' }], play: [{ level: 'paid' }] });
    } finally {
      await wh.close();
    }
  });
});

describe('distribution', () => {
  it('no KEY-distributed table is skewed on generated data: largest of 16 slices ≤ 1.2 × the mean', async () => {
    const { generate } = await import('../src/generate/generator.js');
    const out = await writeTree({});
    await generate({ out, songs: 5000, events: 20000, days: 3, seed: 7 });
    // The layout as the migrations leave it on Redshift (the emulation keeps it); the rows as the
    // ETL loads them (the same on every target, as the tests above show), loaded on PostgreSQL for speed.
    const rs = await openTestWarehouse({ target: 'redshift-emulator' });
    const wh = await openTestWarehouse();
    try {
      const keyed = await sql<{ table: string; diststyle: string }>`select "table", diststyle from svv_table_info where diststyle like 'KEY(%'`.execute(rs.db);
      expect(keyed.rows.map((r) => r.table).sort()).toEqual(['songplays', 'songs', 'time']);
      await runEtl(wh, { songsDir: path.join(out, 'song_data'), logsDir: path.join(out, 'log_data') });
      for (const { table, diststyle } of keyed.rows) {
        const column = diststyle.slice(4, -1);
        // A NULL key always lands on one slice; others by a hash of the key's text.
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}
          group by case when ${sql.ref(column)} is null then -1 else abs(hashtext(cast(${sql.ref(column)} as text))) % 16 end`.execute(wh.db);
        const total = rows.reduce((s, r) => s + r.n, 0);
        expect(total, table).toBeGreaterThan(1000);
        expect(Math.max(...rows.map((r) => r.n)), `${table} on ${column}`).toBeLessThanOrEqual(1.2 * (total / 16));
      }
      // The first layout (songplays on song_id) fails the same measure: unmatched plays share one NULL key.
      const old = await sql<{ n: number }>`select count(*)::int as n from songplays group by case when song_id is null then -1 else abs(hashtext(song_id)) % 16 end`.execute(wh.db);
      const plays = old.rows.reduce((s, r) => s + r.n, 0);
      expect(Math.max(...old.rows.map((r) => r.n))).toBeGreaterThan(1.2 * (plays / 16));
    } finally {
      await Promise.all([rs.close(), wh.close()]);
    }
  }, 180_000);
});
