import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { catalogueMatchRate, dailyActiveUsers, levelSplit, playsByHour, playsByWeekday, topArtists, topCatalogueSongs, topSongs, userActivity } from '../src/queries/index.js';
import { openTestWarehouse } from './helpers/db.js';
import { ROOT, run, sparkify } from './helpers/cli.js';
import { expectedStar, readEvents, readSongs } from './helpers/expected.js';

/** Counts by key, sorted by count descending then key. */
function ranked<T>(items: T[], key: (t: T) => string) {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(key(i), (counts.get(key(i)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

describe('analysts', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let data: string;
  let expected: ReturnType<typeof expectedStar>;
  beforeAll(async () => {
    data = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-analysts-'));
    await generate({ out: data, songs: 80, events: 4000, seed: 11, days: 9 });
    wh = await openTestWarehouse();
    await runEtl(wh, { songsDir: path.join(data, 'song_data'), logsDir: path.join(data, 'log_data') });
    expected = expectedStar(readSongs(path.join(data, 'song_data')), readEvents(path.join(data, 'log_data')));
  });
  afterAll(async () => {
    await wh.close();
    await fs.rm(data, { recursive: true, force: true });
  });

  describe('query helpers agree with the plays computed from the files', () => {
    it('topSongs and topArtists rank every play as played, with the catalogue ids where a play matched, numbers as JS numbers', async () => {
      const asPlayed = (p: (typeof expected.songplays)[number]) => `${p.song_title}\u0000${p.artist_name}`;
      const songs = await topSongs(wh.db, { limit: 5 });
      expect(songs.map((s) => [`${s.title}\u0000${s.artist_name}`, s.plays])).toEqual(ranked(expected.songplays, asPlayed).slice(0, 5));
      expect(typeof songs[0]!.plays).toBe('number');
      for (const s of songs) {
        const ids = expected.songplays.filter((p) => p.song_title === s.title && p.artist_name === s.artist_name && p.song_id).map((p) => p.song_id!);
        expect(s.song_id).toBe(ids.length ? ids.sort().at(-1) : null);
      }
      const artists = await topArtists(wh.db, { limit: 3 });
      expect(artists.map((a) => [a.name, a.plays])).toEqual(ranked(expected.songplays, (p) => p.artist_name!).slice(0, 3));
      // The matched-only ranking stays available under its own name.
      const matched = expected.songplays.filter((p) => p.song_id);
      const catalogue = await topCatalogueSongs(wh.db, { limit: 5 });
      expect(catalogue.map((s) => [s.song_id, s.plays])).toEqual(ranked(matched, (p) => p.song_id!).slice(0, 5));
      const title = new Map(expected.songs.map((s) => [s.song_id, s.title]));
      expect(catalogue.map((s) => s.title)).toEqual(catalogue.map((s) => title.get(s.song_id)));
      const rate = await catalogueMatchRate(wh.db);
      expect(rate).toEqual({ plays: expected.songplays.length, matched: matched.length, rate: matched.length / expected.songplays.length });
    });

    it('a period narrows every helper', async () => {
      const from = new Date(Date.UTC(2018, 10, 3));
      const to = new Date(Date.UTC(2018, 10, 5));
      const inPeriod = expected.songplays.filter((p) => p.start_time >= from && p.start_time < to);
      expect((await topSongs(wh.db, { from, to, limit: 3 })).map((s) => [`${s.title}\u0000${s.artist_name}`, s.plays])).toEqual(
        ranked(inPeriod, (p) => `${p.song_title}\u0000${p.artist_name}`).slice(0, 3),
      );
    });

    it('playsByHour: 24 zero-filled rows; playsByWeekday: 7', async () => {
      const hours = await playsByHour(wh.db);
      expect(hours.map((h) => h.hour)).toEqual([...Array(24).keys()]);
      expect(hours.map((h) => h.plays)).toEqual([...Array(24).keys()].map((h) => expected.songplays.filter((p) => p.start_time.getUTCHours() === h).length));
      const narrow = await playsByHour(wh.db, { from: new Date(Date.UTC(2018, 10, 1, 10)), to: new Date(Date.UTC(2018, 10, 1, 11)) });
      expect(narrow.filter((h) => h.plays > 0).map((h) => h.hour)).toEqual(expected.songplays.some((p) => p.start_time.getTime() >= Date.UTC(2018, 10, 1, 10) && p.start_time.getTime() < Date.UTC(2018, 10, 1, 11)) ? [10] : []);
      expect(narrow).toHaveLength(24);
      const days = await playsByWeekday(wh.db);
      expect(days.map((d) => d.plays)).toEqual([0, 1, 2, 3, 4, 5, 6].map((w) => expected.songplays.filter((p) => p.start_time.getUTCDay() === w).length));
    });

    it('levelSplit and dailyActiveUsers', async () => {
      const levels = await levelSplit(wh.db);
      expect(levels).toEqual(
        ['free', 'paid'].map((level) => {
          const plays = expected.songplays.filter((p) => p.level === level);
          return { level, plays: plays.length, users: new Set(plays.map((p) => p.user_id)).size };
        }),
      );
      const dau = await dailyActiveUsers(wh.db);
      const byDay = new Map<number, Set<number | null>>();
      for (const p of expected.songplays) {
        const day = p.start_time.getUTCDate();
        (byDay.get(day) ?? byDay.set(day, new Set()).get(day)!).add(p.user_id);
      }
      expect(dau).toEqual([...byDay.keys()].sort((a, b) => a - b).map((day) => ({ year: 2018, month: 11, day, users: byDay.get(day)!.size })));
    });

    it('userActivity', async () => {
      const user = expected.users[0]!;
      const plays = expected.songplays.filter((p) => p.user_id === user.user_id);
      const times = plays.map((p) => p.start_time.getTime());
      expect(await userActivity(wh.db, user.user_id)).toEqual({
        ...user,
        last_seen_at: undefined,
        plays: plays.length,
        matched_plays: plays.filter((p) => p.song_id).length,
        first_play: plays.length ? new Date(Math.min(...times)) : null,
        last_play: plays.length ? new Date(Math.max(...times)) : null,
      } as never);
      expect(await userActivity(wh.db, 999999)).toBeUndefined();
    });
  });

  it('a TypeScript file outside the project imports sparkify-dwh, type-checks under strict, and prints what SQL by hand says', async () => {
    expect((await run('npm', ['run', 'build'])).code).toBe(0);
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-notebook-'));
    try {
      await fs.mkdir(path.join(outside, 'node_modules'));
      await fs.symlink(ROOT, path.join(outside, 'node_modules/sparkify-dwh'));
      await fs.copyFile(path.join(ROOT, 'examples/listening-report.ts'), path.join(outside, 'report.ts'));
      await fs.writeFile(
        path.join(outside, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, types: [] }, files: ['report.ts'] }),
      );
      await fs.writeFile(path.join(outside, 'package.json'), '{"type":"module"}');
      const tsc = await run(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', path.join(outside, 'tsconfig.json')]);
      expect(tsc.code, tsc.stdout).toBe(0);
      const report = await run(process.execPath, ['--import', 'tsx', path.join(outside, 'report.ts')], { DATABASE_URL: wh.url });
      expect(report.code, report.stderr).toBe(0);
      const printed = JSON.parse(report.stdout);
      const { rows } = await sql<{ title: string; artist_name: string; plays: number }>`
        select song_title as title, artist_name, count(*) as plays from songplays
        group by song_title, artist_name order by plays desc, song_title, artist_name limit 5`.execute(wh.db);
      expect(printed.songs.map((s: { title: string; artist_name: string; plays: number }) => [s.title, s.artist_name, s.plays])).toEqual(
        rows.map((r) => [r.title, r.artist_name, r.plays]),
      );
      const { rows: levels } = await sql<{ level: string; plays: number }>`select level, count(*) as plays from songplays group by level order by level`.execute(wh.db);
      expect(printed.levels.map((l: { level: string; plays: number }) => [l.level, l.plays])).toEqual(levels.map((l) => [l.level, l.plays]));
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  }, 120_000);

  describe('sparkify check', () => {
    it('passes on a good load and fails, naming the check, on a broken one', async () => {
      const good = await sparkify(['check'], { DATABASE_URL: wh.url });
      expect(good.code, good.stdout + good.stderr).toBe(0);
      expect(good.stdout).toMatch(/pass\s+songplays\.user_id → users\s+0/);
      await sql`insert into songplays (start_time, user_id, session_id, item_in_session) values (now(), 424242, -1, -1)`.execute(wh.db);
      try {
        const bad = await sparkify(['check', '--json'], { DATABASE_URL: wh.url });
        expect(bad.code).toBe(1);
        const failed = JSON.parse(bad.stdout).filter((r: { passed: boolean }) => !r.passed);
        expect(failed.map((r: { name: string; offending: number }) => [r.name, r.offending])).toEqual([
          ['songplays.user_id → users', 1],
          ['songplays.start_time → time', 1],
        ]);
      } finally {
        await wh.db.deleteFrom('songplays').where('session_id', '=', -1).execute();
      }
    });
  });

  describe('sparkify query', () => {
    it('prints a table, JSON or CSV', async () => {
      const text = 'select level, count(*) as plays from songplays group by level order by level';
      const levels = await levelSplit(wh.db);
      const asJson = await sparkify(['query', text, '--json'], { DATABASE_URL: wh.url });
      expect(JSON.parse(asJson.stdout)).toEqual(levels.map(({ level, plays }) => ({ level, plays })));
      const asCsv = await sparkify(['query', `select 'a,"b"' as x, 1 as n`, '--csv'], { DATABASE_URL: wh.url });
      expect(asCsv.stdout).toBe('x,n\n"a,""b""",1\n');
      const asTable = await sparkify(['query', 'select 1 as one'], { DATABASE_URL: wh.url });
      expect(asTable.stdout).toBe('one\n---\n1\n');
    });

    it('keeps every column, even two of one name, and shows each value as the server writes it', async () => {
      const text = `select 1 as a, 'x' as a, interval '28 days 1 hour' as span, date '2018-11-15' as d, '{"k": [1]}'::jsonb as j, 12.50::numeric(5,2) as m, 9007199254740993 as big, true as t`;
      const asTable = await sparkify(['query', text], { DATABASE_URL: wh.url });
      expect(asTable.stdout.split('\n').map((l) => l.split(/ {2,}/))).toEqual([
        ['a', 'a', 'span', 'd', 'j', 'm', 'big', 't'],
        ['-', '-', '-'.repeat(16), '-'.repeat(10), '-'.repeat(10), '-'.repeat(5), '-'.repeat(16), '-'],
        ['1', 'x', '28 days 01:00:00', '2018-11-15', '{"k": [1]}', '12.50', '9007199254740993', 't'],
        [''],
      ]);
      const asCsv = await sparkify(['query', text, '--csv'], { DATABASE_URL: wh.url });
      expect(asCsv.stdout).toBe('a,a,span,d,j,m,big,t\n1,x,28 days 01:00:00,2018-11-15,"{""k"": [1]}",12.50,9007199254740993,t\n');
      // JSON: a name given again gets a suffix; numbers stay numbers unless a JS number would change them.
      const asJson = await sparkify(['query', text, '--json'], { DATABASE_URL: wh.url });
      expect(JSON.parse(asJson.stdout)).toEqual([{ a: 1, a_2: 'x', span: '28 days 01:00:00', d: '2018-11-15', j: { k: [1] }, m: 12.5, big: '9007199254740993', t: true }]);
      // Floats as numbers, however the server writes them; a suffix never takes a name the query gave.
      const floats = await sparkify(['query', `select 1e20::float8 as a, 1.5e-7::float8 as a, 'x' as a_2, 'NaN'::float8 as n`, '--json'], { DATABASE_URL: wh.url });
      expect(JSON.parse(floats.stdout)).toEqual([{ a: 1e20, a_3: 1.5e-7, a_2: 'x', n: 'NaN' }]);
      const none = await sparkify(['query', 'select 1 as a, 2 as b where false', '--csv'], { DATABASE_URL: wh.url });
      expect(none.stdout).toBe('a,b\n');
      const empty = await sparkify(['query', '  '], { DATABASE_URL: wh.url });
      expect([empty.code, empty.stderr]).toEqual([2, expect.stringContaining('The query is empty')]);
    });

    it('is read-only, even for several statements', async () => {
      const before = await wh.db.selectFrom('songs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const del = await sparkify(['query', 'delete from songs'], { DATABASE_URL: wh.url });
      expect(del.code).toBe(1);
      expect(del.stderr).toMatch(/read-only transaction/);
      const sneaky = await sparkify(['query', 'commit; delete from songs'], { DATABASE_URL: wh.url });
      expect([sneaky.code, sneaky.stderr]).toEqual([2, expect.stringContaining('query runs one SQL statement: run each statement by itself')]);
      expect(await wh.db.selectFrom('songs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).toEqual(before);
    });
  });

  it('README carries the schema diagram of the migrated database (npm run docs:schema)', async () => {
    const { erDiagram, withDiagram } = await import('../src/docs/er-diagram.js');
    const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
    expect(withDiagram(readme, await erDiagram(wh.db)), 'README is stale: run npm run docs:schema').toBe(readme);
  });
});
