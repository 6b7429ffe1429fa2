import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { countStarTables, runEtl } from '../src/etl/pipeline.js';
import { RejectBudgetError } from '../src/etl/stage/postgres.js';
import { STAR_TABLES } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';
import { timeRow } from './helpers/expected.js';
import { event, song, writeTree } from './helpers/files.js';
import { starSnapshot } from './helpers/snapshot.js';

const DAY = 86400000;
const T0 = Date.UTC(2018, 10, 12, 23, 59, 58, 123); // a Monday, close to midnight, with milliseconds

describe('load rules', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let emptySongs: string;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    emptySongs = await writeTree({});
  });
  afterAll(() => wh.close());
  // Empty star tables and manifest: each test starts from a warehouse that has loaded nothing.
  const reset = async () => {
    for (const t of [...STAR_TABLES, 'loaded_files'] as const) await wh.db.deleteFrom(t).execute();
  };
  beforeEach(reset);

  const stagedEvents = () => wh.db.selectFrom('staging_events').select('user_id').execute();
  const load = async (logs: Record<string, string>, songs: Record<string, string> = {}) =>
    runEtl(wh, { songsDir: Object.keys(songs).length ? await writeTree(songs) : emptySongs, logsDir: await writeTree(logs) });

  it('users take name, gender and level from their latest event, page views included', async () => {
    await load({
      'a.json': [
        event({ userId: '7', level: 'free', firstName: 'Old', ts: T0, page: 'Home' }),
        event({ userId: '7', level: 'paid', firstName: 'New', ts: T0 + 1000, page: 'Submit Upgrade', itemInSession: 1 }),
        event({ userId: '8', level: 'free', ts: T0, page: 'Home', sessionId: 2 }),
        event({ userId: '', auth: 'Logged Out', firstName: null, ts: T0, page: 'Login', sessionId: 3 }),
      ].join('\n'),
    });
    const users = await wh.db.selectFrom('users').selectAll().orderBy('user_id').execute();
    expect(users.map((u) => [u.user_id, u.first_name, u.level, u.last_seen_at.getTime()])).toEqual([
      [7, 'New', 'paid', T0 + 1000],
      [8, 'Ann', 'free', T0],
    ]);
  });

  it('users: among events of the same millisecond, the later session and then the later item win', async () => {
    await load({
      'a.json': [
        event({ userId: '7', firstName: 'LaterItem', ts: T0, sessionId: 5, itemInSession: 3 }),
        event({ userId: '7', firstName: 'EarlierItem', ts: T0, sessionId: 5, itemInSession: 2 }),
        event({ userId: '7', firstName: 'EarlierSession', ts: T0, sessionId: 4, itemInSession: 9 }),
        event({ userId: '8', firstName: 'LaterSession', ts: T0, sessionId: 6, itemInSession: 0 }),
        event({ userId: '8', firstName: 'Older', ts: T0 - 1, sessionId: 7, itemInSession: 0 }),
        event({ userId: '8', firstName: 'EarlierSession', ts: T0, sessionId: 5, itemInSession: 9 }),
      ].join('\n'),
    });
    const users = await wh.db.selectFrom('users').select(['user_id', 'first_name']).orderBy('user_id').execute();
    expect(users).toEqual([
      { user_id: 7, first_name: 'LaterItem' },
      { user_id: 8, first_name: 'LaterSession' },
    ]);
  });

  it('users: events of the same millisecond give the same row loaded A then B, B then A, or together', async () => {
    const a = event({ userId: '7', firstName: 'A', level: 'free', ts: T0, sessionId: 5, itemInSession: 9 });
    const b = event({ userId: '7', firstName: 'B', level: 'paid', ts: T0, sessionId: 6, itemInSession: 1 });
    const row = () => wh.db.selectFrom('users').select(['first_name', 'level', 'last_session_id', 'last_item_in_session']).executeTakeFirstOrThrow();
    const outcomes = [];
    const orders: Record<string, string>[][] = [[{ 'a.json': a }, { 'b.json': b }], [{ 'b.json': b }, { 'a.json': a }], [{ 'ab.json': `${a}\n${b}` }]];
    for (const order of orders) {
      await reset();
      for (const files of order) await load(files);
      outcomes.push(await row());
    }
    // B comes later in (ts, session, item) order: it wins every way round.
    expect(outcomes).toEqual(Array(3).fill({ first_name: 'B', level: 'paid', last_session_id: 6, last_item_in_session: 1 }));
  });

  it('a later load with newer events updates the level; a load of older events never overwrites it', async () => {
    await load({ 'd1.json': event({ userId: '7', level: 'free', ts: T0 }) });
    await load({ 'd2.json': event({ userId: '7', level: 'paid', ts: T0 + DAY }) });
    expect((await wh.db.selectFrom('users').select('level').executeTakeFirstOrThrow()).level).toBe('paid');
    const late = await load({ 'd0.json': event({ userId: '7', level: 'free', firstName: 'Stale', ts: T0 - DAY }) });
    expect(await wh.db.selectFrom('users').select(['level', 'first_name']).executeTakeFirstOrThrow()).toEqual({ level: 'paid', first_name: 'Ann' });
    expect(late.transform.users).toEqual({ inserted: 0, updated: 0 });
  });

  it('loading days out of order ends in the same state as in order', async () => {
    const days = [0, 1, 2].map((d) => ({
      [`d${d}.json`]: [
        event({ userId: '7', level: d === 1 ? 'paid' : 'free', ts: T0 + d * DAY, sessionId: 10 + d }),
        event({ userId: '7', page: 'NextSong', song: `S${d}`, artist: 'A', length: 100 + d, ts: T0 + d * DAY + 5, sessionId: 10 + d, itemInSession: 1 }),
      ].join('\n'),
    }));
    for (const d of days) await load(d);
    const inOrder = await starSnapshot(wh.db);
    await reset();
    for (const d of [...days].reverse()) await load(d);
    expect(await starSnapshot(wh.db)).toEqual(inOrder);
    expect(inOrder.users[0]!.level).toBe('free');
  });

  it('keeps a play with no catalogue match, with NULL song and artist', async () => {
    await load(
      {
        'a.json': [
          event({ page: 'NextSong', song: 'Known', artist: 'Band', length: 200.5, itemInSession: 0 }),
          event({ page: 'NextSong', song: 'Known', artist: 'Band', length: 200.6, itemInSession: 1 }), // length differs
          event({ page: 'NextSong', song: 'Unknown', artist: 'Nobody', length: 99, itemInSession: 2 }),
        ].join('\n'),
      },
      { 'A/S1.json': song({ song_id: 'SO1', title: 'Known', artist_name: 'Band', duration: 200.5, artist_id: 'AR1' }) },
    );
    const plays = await wh.db.selectFrom('songplays').select(['item_in_session', 'song_id', 'artist_id']).orderBy('item_in_session').execute();
    expect(plays).toEqual([
      { item_in_session: 0, song_id: 'SO1', artist_id: 'AR1' },
      { item_in_session: 1, song_id: null, artist_id: null },
      { item_in_session: 2, song_id: null, artist_id: null },
    ]);
  });

  it('links plays loaded before their song when the song arrives', async () => {
    await load({ 'a.json': event({ page: 'NextSong', song: 'Late', artist: 'Band', length: 123.25 }) });
    expect((await wh.db.selectFrom('songplays').select('song_id').executeTakeFirstOrThrow()).song_id).toBeNull();
    const summary = await load(
      { 'b.json': event({ userId: '9', ts: T0 + DAY }) },
      { 'A/S2.json': song({ song_id: 'SO2', title: 'Late', artist_name: 'Band', duration: 123.25, artist_id: 'AR2' }) },
    );
    expect(summary.transform.songplays.linked).toBe(1);
    expect(await wh.db.selectFrom('songplays').select(['song_id', 'artist_id']).executeTakeFirstOrThrow()).toEqual({ song_id: 'SO2', artist_id: 'AR2' });
  });

  it('counts an event once when overlapping files hold it twice, in one run or across runs', async () => {
    const play = event({ page: 'NextSong', song: 'X', artist: 'Y', length: 1 });
    await load({ 'a.json': play, 'b.json': `${play}\n${event({ page: 'NextSong', itemInSession: 1, song: 'X', artist: 'Y', length: 1 })}` });
    await load({ 'c.json': play });
    // Both plays share one timestamp, so one time row.
    expect(await countStarTables(wh.db)).toMatchObject({ songplays: 2, time: 1 });
  });

  it('a load that starts at the last play the warehouse holds updates that play and inserts the later ones', async () => {
    const play = (ts: number, item: number, level: string) => event({ page: 'NextSong', song: 'X', artist: 'Y', length: 1, ts, itemInSession: item, level });
    await load({ 'a.json': [play(T0, 0, 'free'), play(T0 + 1000, 1, 'free')].join('\n') });
    // The table's latest start_time again, as the source's earliest: the source is not all beyond the table.
    const second = await load({ 'b.json': [play(T0 + 1000, 1, 'paid'), play(T0 + 2000, 2, 'free')].join('\n') });
    expect(second.transform.songplays).toEqual({ inserted: 1, updated: 1, linked: 0 });
    expect(second.transform.time).toEqual({ inserted: 1, updated: 0 });
    const plays = await wh.db.selectFrom('songplays').select(['item_in_session', 'level']).orderBy('start_time').execute();
    expect(plays).toEqual([
      { item_in_session: 0, level: 'free' },
      { item_in_session: 1, level: 'paid' },
      { item_in_session: 2, level: 'free' },
    ]);
  });

  it('takes an artist from its song with the lowest song_id, whatever the load order', async () => {
    const a = song({ song_id: 'SOB', artist_id: 'AR9', artist_name: 'Name B', artist_location: ' Paris ', artist_latitude: 48.85 });
    const b = song({ song_id: 'SOA', artist_id: 'AR9', artist_name: 'Name A', artist_location: '' });
    await load({}, { 'B.json': a });
    await load({}, { 'A.json': b });
    const first = await wh.db.selectFrom('artists').selectAll().execute();
    expect(first).toEqual([{ artist_id: 'AR9', name: 'Name A', location: null, latitude: null, longitude: null, source_song_id: 'SOA' }]);
    await load({}, { 'B.json': a }); // a later load of the higher song_id does not take over
    expect(await wh.db.selectFrom('artists').selectAll().execute()).toEqual(first);
  });

  it('songs: one row per song_id, a year of 0 as NULL', async () => {
    await load({}, { 'a.json': song({ song_id: 'SO1', year: 0 }), 'b.json.gz': song({ song_id: 'SO2', year: 1999 }) });
    expect(await wh.db.selectFrom('songs').select(['song_id', 'year']).orderBy('song_id').execute()).toEqual([
      { song_id: 'SO1', year: null },
      { song_id: 'SO2', year: 1999 },
    ]);
  });

  it('time: one row per distinct play time, split into UTC parts (weekday 0 = Sunday)', async () => {
    const times = [T0, T0 + 2000, T0 + 5 * DAY + 3_600_123];
    await load({
      'a.json': [...times, T0].map((ts, i) => event({ page: 'NextSong', song: 'x', artist: 'y', length: 1, ts, itemInSession: i })).join('\n'),
    });
    const rows = await wh.db.selectFrom('time').selectAll().orderBy('start_time').execute();
    expect(rows).toEqual(times.map(timeRow));
  });

  it('text survives staging intact: quotes, tabs, newlines, backslashes and non-ASCII', async () => {
    const title = 'Tab\there "quoted" \\ back\nnew — café ☕';
    await load({}, { 'a.json': song({ title }) });
    expect((await wh.db.selectFrom('songs').select('title').executeTakeFirstOrThrow()).title).toBe(title);
  });

  it('a bad record fails the run, naming file and line, and leaves the warehouse as it was', async () => {
    await load({ 'a.json': event({ userId: '1' }) });
    const before = await starSnapshot(wh.db);
    const run = load({ 'b.json': `${event({ userId: '2' })}\n${event({ userId: '3' })}\n{"page": "Home", "ts": "soon"}\n` });
    await expect(run).rejects.toThrow(RejectBudgetError);
    await expect(run).rejects.toThrow(/b\.json:3: field "ts" should be an integer/);
    expect(await starSnapshot(wh.db)).toEqual(before);
    // Its staging was rolled back too: nothing of b.json is left in staging.
    expect(await stagedEvents()).toEqual([]);
  });

  it('a missing directory fails the run by its option, songs first', async () => {
    const songs = await writeTree(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`A/${i}/s${i}.json`, song({ song_id: `S${i}` })])));
    const logs = await writeTree({ 'a.json': event({}) });
    const missing = `${logs}-missing`;
    await expect(runEtl(wh, { songsDir: songs, logsDir: missing })).rejects.toThrow(`Log (--logs) directory not found: ${missing}`);
    await expect(runEtl(wh, { songsDir: missing, logsDir: logs })).rejects.toThrow(`Song (--songs) directory not found: ${missing}`);
    await expect(runEtl(wh, { songsDir: missing, logsDir: missing })).rejects.toThrow('Song (--songs) directory not found');
    expect(await wh.db.selectFrom('etl_file_queue').select('path').execute()).toEqual([]);
    expect(await countStarTables(wh.db)).toEqual(Object.fromEntries(STAR_TABLES.map((t) => [t, 0])));
    // And with both there, the same files load (the song files found on a thread beside the logs' staging).
    const ok = await runEtl(wh, { songsDir: songs, logsDir: logs, findSongsOnThread: true });
    expect([ok.loadedFiles, ok.staged]).toEqual([{ songs: 30, events: 1 }, { songs: 30, events: 1 }]);
  });

  it('a failure inside the transform rolls every star table back', async () => {
    await load({ 'a.json': event({ userId: '1' }) });
    const before = await starSnapshot(wh.db);
    // Sabotage the last step (time) so that songs, users and songplays have already been merged.
    await sql`alter table time add constraint no_plays check (hour < 0) not valid`.execute(wh.db);
    try {
      await expect(
        load({ 'b.json': event({ userId: '2', page: 'NextSong', song: 'x', artist: 'y', length: 1 }) }, { 'c.json': song({}) }),
      ).rejects.toThrow(/no_plays/);
    } finally {
      await sql`alter table time drop constraint no_plays`.execute(wh.db);
    }
    expect(await starSnapshot(wh.db)).toEqual(before);
    // A run that failed after staging keeps its staged rows to look at; one that succeeds empties staging.
    expect(await stagedEvents()).toEqual([{ user_id: '2' }]);
    await load({ 'b.json': event({ userId: '2' }) });
    expect(await stagedEvents()).toEqual([]);
    expect(await wh.db.selectFrom('staging_songs').select('song_id').execute()).toEqual([]);
  });
});
