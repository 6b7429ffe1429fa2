import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acquireEtlLock, EtlBusyError } from '../src/db/lock.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { openWarehouse } from '../src/db/connection.js';
import { runEtl } from '../src/etl/pipeline.js';
import { walkDataFiles } from '../src/etl/read/files.js';
import { RejectBudgetError, stageLocalFiles } from '../src/etl/stage/postgres.js';
import type { Kysely } from 'kysely';
import { type Database, STAR_TABLES } from '../src/types/database.js';
import { EVENT_SOURCE } from '../src/types/raw.js';
import { createTestDatabase, openTestWarehouse } from './helpers/db.js';
import { sparkify } from './helpers/cli.js';
import { event, writeTree } from './helpers/files.js';
import { holdTable, until, waitingOn } from './helpers/locks.js';
import { starSnapshot } from './helpers/snapshot.js';

const BAD_LOGS = path.resolve(import.meta.dirname, 'fixtures/bad-logs');

/** The fixture corpus: which records are bad, where, and why (written by hand, see fixtures/bad-logs). */
const EXPECTED_REJECTS = [
  { file: 'missing-page.json', line: 1, reason: /missing required field "page"/ },
  { file: 'missing-ts.json', line: 2, reason: /missing required field "ts"/ },
  { file: 'not-json.json', line: 2, reason: /not valid JSON/ },
  { file: 'not-object.json', line: 2, reason: /not a JSON object but an array/ },
  { file: 'too-long.json', line: 2, reason: /field "level" is 17 bytes long, more than its column's 16/ },
  { file: 'truncated.json', line: 2, reason: /cut off by the end of the file/ },
  { file: 'wrong-type.json', line: 2, reason: /field "userId" should be a string/ },
];
const GOOD_PLAYS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 18, 19];

/** A run's per-file counts as it recorded them, in path order. */
const runFiles = (db: Kysely<Database>, runId: string) =>
  db.selectFrom('etl_run_files').select(['path', 'records_read', 'staged', 'rejected']).where('run_id', '=', runId).orderBy('source').orderBy('path').execute();

describe('nothing lost', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let noSongs: string;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    noSongs = await writeTree({});
  });
  afterAll(() => wh.close());
  beforeEach(async () => {
    for (const t of [...STAR_TABLES, 'loaded_files', 'load_errors', 'etl_run_files', 'etl_runs'] as const) await wh.db.deleteFrom(t).execute();
  });

  describe('bad records', () => {
    it('go to load_errors with file, line, reason and raw text while the good records of the same files load', async () => {
      const summary = await runEtl(wh, { songsDir: noSongs, logsDir: BAD_LOGS, maxErrors: 10 });
      expect(summary.rejected).toBe(EXPECTED_REJECTS.length);
      const errors = await wh.db.selectFrom('load_errors').selectAll().orderBy('file').orderBy('line').execute();
      expect(errors).toHaveLength(EXPECTED_REJECTS.length);
      EXPECTED_REJECTS.forEach((want, i) => {
        expect(errors[i]).toMatchObject({ run_id: summary.runId, source: 'events', file: path.join(BAD_LOGS, '2018/11', want.file), line: want.line });
        expect(errors[i]!.reason).toMatch(want.reason);
      });
      const raw = await fs.readFile(path.join(BAD_LOGS, '2018/11/not-json.json'), 'utf8');
      expect(errors.find((e) => e.file.endsWith('not-json.json'))!.raw).toBe(raw.split('\n')[1]);

      const plays = await wh.db.selectFrom('songplays').select('item_in_session').orderBy('item_in_session').execute();
      expect(plays.map((p) => p.item_in_session)).toEqual(GOOD_PLAYS);
    });

    it('are reconciled per file: read = staged + rejected, recorded with the run', async () => {
      const summary = await runEtl(wh, { songsDir: noSongs, logsDir: BAD_LOGS, maxErrors: 10 });
      const files = await wh.db.selectFrom('etl_run_files').selectAll().where('run_id', '=', summary.runId).orderBy('path').execute();
      expect(files).toHaveLength(12);
      for (const f of files) expect(f.records_read).toBe(f.staged + f.rejected);
      const rejectedPerFile = Object.fromEntries(files.map((f) => [path.basename(f.path), f.rejected]));
      for (const r of EXPECTED_REJECTS) expect(rejectedPerFile[r.file]).toBe(1);
      expect(files.find((f) => f.path.endsWith('empty.json'))).toMatchObject({ records_read: 0, staged: 0, rejected: 0 });
      const run = await wh.db.selectFrom('etl_runs').selectAll().where('run_id', '=', summary.runId).executeTakeFirstOrThrow();
      expect(run).toMatchObject({ status: 'succeeded', files: 12, records_read: 24, staged: 17, rejected: 7 });
    });

    it('parsed by worker threads give the same rejects, in the same order, the same counts and the same plays', async () => {
      // Worker threads take files of 1 MB and more: the corpus, plus two large files with bad lines
      // inside. The last is cut into a part per worker (too few files are left to keep both busy), between its bad lines.
      const big = (day: number) =>
        Array.from({ length: 4000 }, (_, i) =>
          i % 1500 === 700 ? '{"page": "NextSong", oops' : event({ page: 'NextSong', sessionId: day, itemInSession: i, ts: 1541990000000 + day * 1e7 + i, userId: String(i % 50), location: 'x'.repeat(200) }),
        ).join('\n');
      const logs = await writeTree({ '2018/11/big-1.json': big(1), '2018/11/big-2.json': big(2) });
      await fs.cp(BAD_LOGS, logs, { recursive: true });
      expect((await fs.stat(path.join(logs, '2018/11/big-1.json'))).size).toBeGreaterThan(1 << 20);

      const inline = await runEtl(wh, { songsDir: noSongs, logsDir: logs, maxErrors: 20, fullRefresh: true, parseWorkers: 0 });
      const inlineStar = await starSnapshot(wh.db);
      for (const t of STAR_TABLES) await wh.db.deleteFrom(t).execute();
      const threaded = await runEtl(wh, { songsDir: noSongs, logsDir: logs, maxErrors: 20, fullRefresh: true, parseWorkers: 2 });
      const counts = async (s: typeof inline) => (await runFiles(wh.db, s.runId)).map((f) => [f.path, f.records_read, f.staged, f.rejected]);
      expect(threaded.rejects).toEqual(inline.rejects);
      expect(await counts(threaded)).toEqual(await counts(inline));
      expect(threaded.rejects).toHaveLength(EXPECTED_REJECTS.length + 6);
      expect(await starSnapshot(wh.db)).toEqual(inlineStar);
      expect(inlineStar.songplays).toHaveLength(GOOD_PLAYS.length + 2 * (4000 - 3));
      // The last large file was cut into a part per worker, its hash taken whole: the manifest holds each file's SHA-256.
      const hashes = await wh.db.selectFrom('loaded_files').select(['path', 'hash']).where('path', 'like', '%big-%').orderBy('path').execute();
      const sha256 = async (f: string) => createHash('sha256').update(await fs.readFile(path.join(logs, f))).digest('hex');
      expect(hashes).toEqual([{ path: '2018/11/big-1.json', hash: await sha256('2018/11/big-1.json') }, { path: '2018/11/big-2.json', hash: await sha256('2018/11/big-2.json') }]);

      const budget = runEtl(wh, { songsDir: noSongs, logsDir: logs, maxErrors: 8, fullRefresh: true, parseWorkers: 2 });
      await expect(budget).rejects.toThrow(RejectBudgetError);
      const error = (await budget.catch((e) => e)) as RejectBudgetError;
      expect(error.rejects).toEqual(inline.rejects.slice(0, 9));
    });

    it('of songs and logs, staged at the same time, count against one budget in that order: songs first, then logs, each in file order', async () => {
      const songs = await writeTree({
        'A/a.json': '{"song_id": "S1", "artist_id": "A1", "title": "ok", "duration": 1}',
        'A/b.json': '{"song_id": "S2", "title": "no artist"}',
        'A/c.json': '{"song_id": 3, "artist_id": "A1"}',
      });
      const songRejects = [
        { source: 'songs', file: path.join(songs, 'A/b.json'), line: 1, reason: 'missing required field "artist_id"' },
        { source: 'songs', file: path.join(songs, 'A/c.json'), line: 1, reason: 'field "song_id" should be a string but is 3' },
      ];
      const logRejects = EXPECTED_REJECTS.map((r) => ({ source: 'events', file: path.join(BAD_LOGS, '2018/11', r.file), line: r.line }));
      // Parsed here or by workers; the song files found before the logs stage, or on a thread while they do.
      let star: Awaited<ReturnType<typeof starSnapshot>> | undefined;
      for (const [parseWorkers, findSongsOnThread] of [[0, false], [2, false], [0, true], [2, true]] as const) {
        const all = await runEtl(wh, { songsDir: songs, logsDir: BAD_LOGS, maxErrors: 20, fullRefresh: true, parseWorkers, findSongsOnThread });
        star ??= await starSnapshot(wh.db);
        expect(await starSnapshot(wh.db)).toEqual(star);
        const logFiles = (await fs.readdir(BAD_LOGS, { recursive: true })).filter((f) => /\.json(\.gz)?$/i.test(f)).length;
        expect([all.files, all.loadedFiles, all.staged.songs]).toEqual([{ songs: 3, events: logFiles }, { songs: 3, events: logFiles }, 1]);
        expect(all.rejects.map((r) => ({ source: r.source, file: r.file, line: r.line }))).toEqual([...songRejects.map(({ reason: _, ...r }) => r), ...logRejects]);
        expect(all.rejects.slice(0, 2)).toMatchObject(songRejects);
        // The budget breaks at the same record however the two loads interleave: in the logs, at the third.
        const inLogs = (await runEtl(wh, { songsDir: songs, logsDir: BAD_LOGS, maxErrors: 4, fullRefresh: true, parseWorkers, findSongsOnThread }).catch((e) => e)) as RejectBudgetError;
        expect(inLogs).toBeInstanceOf(RejectBudgetError);
        expect(inLogs.rejects.map((r) => r.file)).toEqual([...songRejects, ...logRejects].slice(0, 5).map((r) => r.file));
        // In the songs: no log record is counted.
        const inSongs = (await runEtl(wh, { songsDir: songs, logsDir: BAD_LOGS, maxErrors: 1, fullRefresh: true, parseWorkers, findSongsOnThread }).catch((e) => e)) as RejectBudgetError;
        expect(inSongs.rejects).toMatchObject(songRejects);
      }
    });

    it('a file that cannot be read fails the run with its own error while the other load still needs the parse workers', async () => {
      // Song files of 1 MB and more go to the workers too (valid records padded with white space).
      const bigSong = (i: number) => `${' '.repeat(1 << 20)}${JSON.stringify({ song_id: `S${i}`, artist_id: 'A', title: 't', duration: 1 })}`;
      const songs = await writeTree(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`A/${i}.json`, bigSong(i)])));
      const lines = Array.from({ length: 6000 }, (_, i) => event({ itemInSession: i, location: 'x'.repeat(200) })).join('\n');
      const logs = await writeTree({ '2018/11/a.json': lines, '2018/11/c.json': lines });
      // Not gzip at all: gunzip fails partway into the file, in a worker.
      await fs.writeFile(path.join(logs, '2018/11/b.json.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(2 << 20, 7)]));
      const run = runEtl(wh, { songsDir: songs, logsDir: logs, fullRefresh: true, parseWorkers: 2 });
      await expect(run).rejects.toThrow(/b\.json\.gz: cannot read/);
      // Its stack (shown under --debug) is the worker's, where reading failed, not the pool's that heard of it.
      expect(((await run.catch((e: unknown) => e)) as Error).stack).toMatch(/at cannotRead .*files\.ts/);
      expect(await wh.db.selectFrom('staging_songs').select('song_id').execute()).toEqual([]);
    });

    it('past the budget fail the run, are recorded, and leave the star tables exactly as they were', async () => {
      await runEtl(wh, { songsDir: noSongs, logsDir: await writeTree({ 'ok.json': event({ userId: '1' }) }) });
      const before = await starSnapshot(wh.db);
      const run = runEtl(wh, { songsDir: noSongs, logsDir: BAD_LOGS, maxErrors: 3 });
      await expect(run).rejects.toThrow(RejectBudgetError);
      await expect(run).rejects.toThrow(/missing-page\.json:1: missing required field "page"/);
      expect(await starSnapshot(wh.db)).toEqual(before);
      const failed = await wh.db.selectFrom('etl_runs').selectAll().where('status', '=', 'failed').execute();
      expect(failed).toHaveLength(1);
      expect(failed[0]!.error).toMatch(/error budget of 3/);
      const errors = await wh.db.selectFrom('load_errors').select(['file', 'run_id']).execute();
      expect(errors).toHaveLength(4); // the budget, and the one that broke it
      expect(new Set(errors.map((e) => e.run_id))).toEqual(new Set([failed[0]!.run_id]));
      // The failed run's files were not marked loaded: the next run tries them again.
      expect(await wh.db.selectFrom('loaded_files').select('path').execute()).toEqual([{ path: 'ok.json' }]);
    });

    it('on the command line: exit non-zero and print the first rejects with file, line and reason', async () => {
      const result = await sparkify(['etl', '--allow-empty', '--songs', noSongs, '--logs', BAD_LOGS, '--max-errors', '1'], { DATABASE_URL: wh.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${path.join(BAD_LOGS, '2018/11/missing-page.json')}:1: missing required field "page"`);
      expect(result.stderr).toContain(`${path.join(BAD_LOGS, '2018/11/missing-ts.json')}:2: missing required field "ts"`);
      expect(await wh.db.selectFrom('songplays').select('songplay_id').execute()).toEqual([]);
    });
  });

  describe('staged values', () => {
    it('are the JSON values exactly, inline and from worker threads: text with tabs, backslashes and any Unicode, integers and doubles at their limits', async () => {
      const odd = [
        { artist: 'tab\there\\back "q"\nnew\rline', song: '日本語 ö 🎵', location: 'a\\N', sessionId: -2147483648, itemInSession: 2147483647, ts: 2 ** 53 - 1, length: 5e-324, registration: -1.5e300 },
        { artist: '', song: 'x'.repeat(512), userAgent: 'é'.repeat(512), sessionId: 0, itemInSession: -1, ts: -(2 ** 53 - 1), length: -0.5, registration: 1e21 },
        { artist: null, song: null, firstName: 'BjÃ¶rk', status: null, ts: 2 ** 32, length: 232.35, registration: null },
      ].map((fields, i) => ({ page: 'Home', userId: String(i), ...fields }));
      // A file of 1 MB or more goes to the worker threads when there are some.
      const padding = Array.from({ length: 3000 }, (_, i) => event({ itemInSession: i, location: 'p'.repeat(300) }));
      const logs = await writeTree({ 'odd.json': [...odd.map((o) => event(o)), ...padding].join('\n') });
      // Expected: each field as JSON.parse gives it, under its staging column (the one repair: Björk).
      const expected = odd.map((o, i) => {
        const record = JSON.parse(event(o)) as Record<string, unknown>;
        const row = Object.fromEntries(EVENT_SOURCE.fields.map((f) => [f.column, record[f.json] ?? null]));
        return { ...row, ...(i === 2 ? { first_name: 'Björk' } : {}), source_file: path.join(logs, 'odd.json'), source_line: i + 1 };
      });
      const files = [];
      for await (const page of walkDataFiles(logs, 'logs')) files.push(...page);
      for (const parseWorkers of [0, 2]) {
        // Staging alone: the transforms would (rightly) refuse a ts of 2^53 - 1 ms as a timestamp.
        const pages = (async function* () {
          yield files;
        })();
        await stageLocalFiles(await wh.pool(), [{ source: EVENT_SOURCE, pages, largeBytes: files[0]!.size }], { maxErrors: 0, parseWorkers });
        const staged = await wh.db.selectFrom('staging_events').selectAll().where('source_line', '<=', odd.length).orderBy('source_line').execute();
        expect(staged.map((r) => ({ ...r, ts: Number(r.ts) })), `parseWorkers ${parseWorkers}`).toEqual(expected);
        expect(await wh.db.selectFrom('staging_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).toEqual({ n: odd.length + padding.length });
      }
    });
  });

  describe('incremental loads', () => {
    const day = (d: number, extra: string[] = []) =>
      [
        event({ userId: '5', page: 'NextSong', song: `S${d}`, artist: 'A', length: d, ts: Date.UTC(2018, 10, d, 12), sessionId: d, level: d % 2 ? 'free' : 'paid' }),
        ...extra,
      ].join('\n');

    it('load only new or changed files; --full-refresh reloads all without changing anything', async () => {
      const logs = await writeTree({ '2018/11/01.json': day(1), '2018/11/02.json': day(2) });
      const first = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(first.loadedFiles.events).toBe(2);

      const again = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(again.loadedFiles).toEqual({ songs: 0, events: 0 });
      expect(again.staged.events).toBe(0);

      await fs.writeFile(path.join(logs, '2018/11/03.json'), day(3));
      const next = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(next.loadedFiles.events).toBe(1);
      expect(next.tables.songplays).toBe(3);

      // A changed file is reloaded whole, without duplicating the plays it already gave.
      await fs.writeFile(path.join(logs, '2018/11/02.json'), day(2, [event({ userId: '6', ts: Date.UTC(2018, 10, 2, 13), sessionId: 99 })]));
      const changed = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(changed.loadedFiles.events).toBe(1);
      expect(changed.tables).toMatchObject({ songplays: 3, users: 2 });

      const before = await starSnapshot(wh.db);
      const full = await runEtl(wh, { songsDir: noSongs, logsDir: logs, fullRefresh: true });
      expect(full.loadedFiles.events).toBe(3);
      for (const counts of Object.values(full.transform)) expect(counts).toMatchObject({ inserted: 0, updated: 0 });
      expect(await starSnapshot(wh.db)).toEqual(before);
    });

    it('a file edited in place to the same size is reloaded, and the change reaches users and songplays', async () => {
      const logs = await writeTree({ '2018/11/01.json': day(1), '2018/11/other.json': event({ userId: '6', ts: Date.UTC(2018, 10, 1, 1), sessionId: 7 }) });
      const file = path.join(logs, '2018/11/01.json');
      await fs.utimes(file, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
      await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      const level = async () => ({
        user: (await wh.db.selectFrom('users').select('level').where('user_id', '=', 5).executeTakeFirstOrThrow()).level,
        play: (await wh.db.selectFrom('songplays').select('level').where('session_id', '=', 1).executeTakeFirstOrThrow()).level,
      });
      expect(await level()).toEqual({ user: 'free', play: 'free' });
      const text = await fs.readFile(file, 'utf8');
      const edited = text.replace('"level":"free"', '"level":"paid"');
      expect(edited).not.toBe(text);
      expect(Buffer.byteLength(edited)).toBe(Buffer.byteLength(text));
      await fs.writeFile(file, edited);
      await fs.utimes(file, new Date('2020-01-02T00:00:00Z'), new Date('2020-01-02T00:00:00Z'));
      const summary = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect((await runFiles(wh.db, summary.runId)).map((f) => f.path)).toEqual(['2018/11/01.json']);
      expect(await level()).toEqual({ user: 'paid', play: 'paid' });
      const manifest = await wh.db.selectFrom('loaded_files').select(['mtime_ms', 'run_id']).where('path', '=', '2018/11/01.json').executeTakeFirstOrThrow();
      expect(manifest).toEqual({ mtime_ms: Date.parse('2020-01-02T00:00:00Z'), run_id: summary.runId });
    });

    it('a file touched without a change is not reloaded', async () => {
      const logs = await writeTree({ '2018/11/01.json': day(1) });
      const file = path.join(logs, '2018/11/01.json');
      await fs.utimes(file, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
      const first = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      const before = await starSnapshot(wh.db);
      const manifest = await wh.db.selectFrom('loaded_files').selectAll().execute();
      await fs.utimes(file, new Date('2020-01-02T00:00:00Z'), new Date('2020-01-02T00:00:00Z'));
      const touched = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(touched.loadedFiles).toEqual({ songs: 0, events: 0 });
      expect(await runFiles(wh.db, touched.runId)).toEqual([]);
      expect(await starSnapshot(wh.db)).toEqual(before);
      // The manifest still names the run that loaded it.
      expect(await wh.db.selectFrom('loaded_files').selectAll().execute()).toEqual(manifest);
      expect(manifest[0]!.run_id).toBe(first.runId);
    });

    it('out of order (newer days first) ends in the same state as in order', async () => {
      const days = [1, 2, 3, 4].map((d) => ({ [`2018/11/${d}.json`]: day(d) }));
      const inOrder = await writeTree(Object.assign({}, ...days));
      await runEtl(wh, { songsDir: noSongs, logsDir: inOrder });
      const expected = await starSnapshot(wh.db);
      for (const t of [...STAR_TABLES, 'loaded_files'] as const) await wh.db.deleteFrom(t).execute();

      const arriving = await writeTree({});
      for (const d of [4, 2, 3, 1]) {
        await fs.mkdir(path.join(arriving, '2018/11'), { recursive: true });
        await fs.writeFile(path.join(arriving, `2018/11/${d}.json`), day(d));
        await runEtl(wh, { songsDir: noSongs, logsDir: arriving });
      }
      expect(await starSnapshot(wh.db)).toEqual(expected);
      expect(expected.users[0]!.level).toBe('paid'); // day 4, the latest
    });
  });

  describe('concurrency', () => {
    it('a second ETL run stops at once, naming the run that holds the warehouse', async () => {
      const logs = await writeTree({ 'a.json': event({}) });
      const release = await acquireEtlLock(wh, async () => '');
      await wh.db.insertInto('etl_runs').values({ run_id: 'the-other-run', started_at: new Date(), status: 'running', options: '{}' }).execute();
      try {
        const other = openWarehouse({ config: { home: '/nonexistent', databaseUrl: wh.url, songsDir: '', logsDir: '' } });
        await expect(runEtl(other, { songsDir: noSongs, logsDir: logs })).rejects.toThrow(EtlBusyError);
        await expect(runEtl(other, { songsDir: noSongs, logsDir: logs })).rejects.toThrow(/Another ETL run is loading this warehouse \(run the-other-run/);
        await other.destroy();
      } finally {
        await release();
      }
      // Once the lock is free, the next run marks the dead run abandoned and loads.
      const summary = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(summary.tables.songplays).toBe(0);
      expect((await wh.db.selectFrom('etl_runs').select('status').where('run_id', '=', 'the-other-run').executeTakeFirstOrThrow()).status).toBe('abandoned');
    });

    it('two ETL processes started together never interleave: one loads, the other stops or runs after it', async () => {
      const logs = await writeTree({ 'a.json': [1, 2, 3].map((i) => event({ page: 'NextSong', itemInSession: i, song: 's', artist: 'a', length: 1 })).join('\n') });
      const env = { DATABASE_URL: wh.url };
      // The manifest is read right after the ETL lock is taken: holding it makes both runs meet there,
      // so that they truly overlap (each stops, or waits for the table) before either goes on.
      const release = await holdTable(wh.url, 'loaded_files');
      let ended = 0;
      const started = [1, 2].map(() => sparkify(['etl', '--allow-empty', '--songs', noSongs, '--logs', logs, '--json'], env).finally(() => ended++));
      try {
        await until('both runs to stop or wait for the manifest', async () => ended + (await waitingOn(wh.url, 'loaded_files')) === 2);
      } finally {
        await release();
      }
      const results = await Promise.all(started);
      const ok = results.filter((r) => r.code === 0);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toMatch(/Another ETL run is loading this warehouse/);
      expect((await wh.db.selectFrom('songplays').select('songplay_id').execute()).length).toBe(3);
      // Exactly one run wrote rows: the one that loaded the file. The other stopped at once (no run
      // record: it never held the lock) or ran after it and found nothing new to load.
      const summaries = ok.map((r) => JSON.parse(r.stdout));
      const writers = summaries.filter((s) => s.transform.songplays.inserted > 0);
      expect(writers).toHaveLength(1);
      expect(writers[0]).toMatchObject({ loadedFiles: { songs: 0, events: 1 }, staged: { songs: 0, events: 3 }, transform: { songplays: { inserted: 3, updated: 0 }, users: { inserted: 1 }, time: { inserted: 1 } } });
      for (const other of summaries.filter((s) => s !== writers[0])) {
        expect(other).toMatchObject({ loadedFiles: { songs: 0, events: 0 }, staged: { songs: 0, events: 0 } });
        for (const counts of Object.values(other.transform)) expect(counts).toMatchObject({ inserted: 0, updated: 0 });
      }
      const runs = await wh.db.selectFrom('etl_runs').select(['run_id', 'status', 'staged']).orderBy('started_at').execute();
      expect(runs.filter((r) => Number(r.staged) > 0)).toEqual([{ run_id: writers[0].runId, status: 'succeeded', staged: 3 }]);
      expect(runs.map((r) => r.status)).toEqual(Array(ok.length).fill('succeeded'));
      expect(await wh.db.selectFrom('loaded_files').select(['path', 'run_id']).execute()).toEqual([{ path: 'a.json', run_id: writers[0].runId }]);
    });

    it('concurrent migrations wait for each other and apply each migration once', async () => {
      const { url, drop } = await createTestDatabase();
      const config = { home: '/nonexistent', databaseUrl: url, songsDir: '', logsDir: '' };
      const [a, b] = [openWarehouse({ config }), openWarehouse({ config })];
      try {
        const done = await Promise.all([migrateToLatest(a.db), migrateToLatest(b.db)]);
        expect(done[0]!.length + done[1]!.length).toBe((await fs.readdir(path.resolve(import.meta.dirname, '../migrations'))).length);
      } finally {
        await a.destroy();
        await b.destroy();
        await drop();
      }
    });
  });

  describe('security', () => {
    it('paths with quotes and SQL in them are data, never SQL', async () => {
      const logs = await writeTree({ "o'brien; drop table songs;--/x\".json": event({ page: 'NextSong', song: "'; drop table users;--", artist: 'a', length: 1 }) });
      const summary = await runEtl(wh, { songsDir: noSongs, logsDir: logs });
      expect(summary.tables).toMatchObject({ songplays: 1, users: 1 });
      expect((await wh.db.selectFrom('songplays').select('song_title').executeTakeFirstOrThrow()).song_title).toBe("'; drop table users;--");
      expect((await wh.db.selectFrom('loaded_files').select('path').executeTakeFirstOrThrow()).path).toBe("o'brien; drop table songs;--/x\".json");
    });

    it('--json shows the warehouse with its password masked, and the password appears nowhere', async () => {
      const logs = await writeTree({ 'a.json': event({}) });
      const password = new URL(wh.url).password;
      const result = await sparkify(['etl', '--allow-empty', '--songs', noSongs, '--logs', logs, '--json'], { DATABASE_URL: wh.url });
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).warehouse).toBe(wh.url.replace(`:${password}@`, ':***@'));
      expect(result.stdout + result.stderr).not.toContain(password);
      const runs = await sparkify(['runs', '--json'], { DATABASE_URL: wh.url });
      expect(runs.stdout + runs.stderr).not.toContain(password);
      expect(JSON.parse(runs.stdout)[0]).toMatchObject({ status: 'succeeded', records_read: 1, staged: 1, rejected: 0 });
    });
  });
});
