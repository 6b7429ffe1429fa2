import { sql } from 'kysely';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { openTestWarehouse } from './helpers/db.js';
import { expectedStar, readEvents, readSongs, undoLatin1 } from './helpers/expected.js';
import { HAS_SAMPLE, SAMPLE_DIR } from './helpers/files.js';
import { starSnapshot } from './helpers/snapshot.js';

const songsDir = path.join(SAMPLE_DIR, 'song_data');
const logsDir = path.join(SAMPLE_DIR, 'log_data');

describe.skipIf(!HAS_SAMPLE)('the real Sparkify sample', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let expected: ReturnType<typeof expectedStar>;
  let events: Record<string, any>[];
  // Every test reads the warehouse one run of the sample loaded (none depends on another having run).
  let summary: Awaited<ReturnType<typeof runEtl>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    events = readEvents(logsDir);
    expected = expectedStar(readSongs(songsDir), events);
    summary = await runEtl(wh, { songsDir, logsDir });
  });
  afterAll(() => wh?.close());

  it('stages every record of the 101 files', async () => {
    expect(summary.files).toEqual({ songs: 71, events: 30 });
    expect(summary.staged).toEqual({ songs: 71, events: events.length });
    expect(events.length).toBe(8056); // the sample as published
    expect(summary.rejected).toBe(0);
    expect(summary.checks.filter((c) => c.severity === 'error').every((c) => c.passed)).toBe(true);
    // A true warning on this sample: 1 play in 6,820 matches the catalogue.
    expect(summary.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['songplays: at least 50% matched to the song catalogue']);
    expect(summary.catalogue).toEqual({ plays: 6820, matched: expected.songplays.filter((p) => p.song_id).length, rate: expected.songplays.filter((p) => p.song_id).length / 6820 });
    // Names decoded twice as Latin-1 ("BjÃ\u0083Â¶rk") are repaired, each text counted once.
    const texts = [...readEvents(logsDir, false), ...readSongs(songsDir, false)].flatMap((r) => Object.values(r).filter((v): v is string => typeof v === 'string'));
    expect(summary.repaired).toBe(texts.filter((t) => undoLatin1(t) !== t).length);
    expect(summary.repaired).toBeGreaterThan(300);
    const bjork = await wh.db.selectFrom('songplays').select((eb) => eb.fn.countAll<number>().as('n')).where('artist_name', '=', 'Björk').executeTakeFirst();
    expect(Number(bjork?.n)).toBe(33);
    // Garbled twice with a byte 0x80–0x9F in the letter ("Å" is C3 85), repaired too: no text keeps a C1 control character.
    const astrom = await wh.db.selectFrom('songplays').select('artist_name').where('artist_name', 'like', 'Kristofer %').executeTakeFirst();
    expect(astrom?.artist_name).toBe('Kristofer Åström');
    const c1 = await sql<{ n: number }>`select count(*) as n from songplays where song_title ~ '[\u0080-\u009f]' or artist_name ~ '[\u0080-\u009f]' or location ~ '[\u0080-\u009f]'`.execute(wh.db);
    expect(Number(c1.rows[0]!.n)).toBe(0);
  });

  it('answers "what are users listening to" with every play, not only the few the catalogue matches', async () => {
    const { topSongs, catalogueMatchRate } = await import('../src/queries/index.js');
    const counts = new Map<string, number>();
    for (const e of events) if (e.page === 'NextSong') counts.set(`${e.song}\u0000${e.artist}`, (counts.get(`${e.song}\u0000${e.artist}`) ?? 0) + 1);
    const [top] = [...counts].sort((a, b) => b[1] - a[1]);
    const [title, artist] = top![0].split('\u0000');
    expect([title, artist, top![1]]).toEqual(["You're The One", 'Dwight Yoakam', 37]); // the sample as published
    const [song] = await topSongs(wh.db, { limit: 1 });
    expect(song).toMatchObject({ title, artist_name: artist, plays: 37 });
    const rate = await catalogueMatchRate(wh.db);
    expect(rate.matched).toBe(expected.songplays.filter((p) => p.song_id).length);
    expect(rate.plays).toBe(expected.songplays.length);
  });

  it('loads exactly the star schema the rules define', async () => {
    const actual = await starSnapshot(wh.db);
    expect(actual.songs).toEqual(expected.songs);
    expect(actual.artists).toEqual(expected.artists);
    expect(actual.users).toEqual(expected.users);
    expect(actual.time).toEqual(expected.time);
    expect(actual.songplays).toEqual(expected.songplays);
    // songplay_id numbers one run's plays in natural-key order (start_time, session_id, item_in_session), from 1.
    const numbered = await wh.db
      .selectFrom('songplays')
      .select(['songplay_id', 'start_time', 'user_id', 'level', 'song_id', 'artist_id', 'session_id', 'item_in_session', 'location', 'user_agent', 'song_title', 'artist_name', 'song_length'])
      .orderBy('songplay_id')
      .execute();
    expect(numbered).toEqual(expected.songplays.map((p, i) => ({ songplay_id: i + 1, ...p })));
    // Guard against vacuous agreement: the sample has plays, level changes, matches and misses.
    expect(expected.songplays.length).toBeGreaterThan(6000);
    expect(expected.songplays.some((p) => p.song_id !== null)).toBe(true);
    expect(expected.songplays.some((p) => p.song_id === null)).toBe(true);
  });

  it('keeps the millisecond of each play', async () => {
    const row = await wh.db.selectFrom('songplays').select('start_time').orderBy('start_time').limit(1).executeTakeFirstOrThrow();
    const first = Math.min(...events.filter((e) => e.page === 'NextSong').map((e) => e.ts));
    expect(row.start_time.getTime()).toBe(first);
  });

  it('a second run changes nothing', async () => {
    const before = await starSnapshot(wh.db);
    const ids = await wh.db.selectFrom('songplays').select(['songplay_id']).orderBy('songplay_id').execute();
    const again = await runEtl(wh, { songsDir, logsDir });
    for (const counts of Object.values(again.transform)) expect(counts).toMatchObject({ inserted: 0, updated: 0 });
    expect(await starSnapshot(wh.db)).toEqual(before);
    expect(await wh.db.selectFrom('songplays').select(['songplay_id']).orderBy('songplay_id').execute()).toEqual(ids);
  });
});

describe.skipIf(!HAS_SAMPLE)('the real Sparkify sample, parsed by worker threads', () => {
  it('loads the same star schema as the main thread does', async () => {
    const wh = await openTestWarehouse();
    try {
      const summary = await runEtl(wh, { songsDir, logsDir, parseWorkers: 2 });
      expect(summary.rejected).toBe(0);
      const expected = expectedStar(readSongs(songsDir), readEvents(logsDir));
      const actual = await starSnapshot(wh.db);
      for (const table of ['songs', 'artists', 'users', 'time', 'songplays'] as const) expect(actual[table]).toEqual(expected[table]);
    } finally {
      await wh.close();
    }
  });
});
