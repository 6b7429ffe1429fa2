import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { transformStaged } from '../src/etl/transform/index.js';
import { STAR_TABLES } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';
import { event, song, writeTree } from './helpers/files.js';

// Which row wins when the input holds several candidates, and what an upsert reports. Each
// expectation follows from the rule as its doc comment states it (lowest song_id, last by content
// with strings compared bytewise, NULL highest, later (ts, session, item) wins), worked out by hand.

const T0 = Date.UTC(2018, 10, 12, 10, 0, 0);

describe('which row wins', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
  });
  afterAll(() => wh.close());
  beforeEach(async () => {
    for (const t of [...STAR_TABLES, 'loaded_files'] as const) await wh.db.deleteFrom(t).execute();
  });
  const load = async (logs: Record<string, string>, songs: Record<string, string> = {}) =>
    runEtl(wh, { songsDir: await writeTree(songs), logsDir: await writeTree(logs) });

  it('songs: of one song_id staged twice, the record last by content wins whole; a later run replaces it', async () => {
    const alpha = song({ song_id: 'SO1', title: 'Alpha', artist_name: 'Zeta', duration: 300 });
    const beta = song({ song_id: 'SO1', title: 'Beta', artist_name: 'Able', duration: 100 });
    for (const files of [{ 'a.json': alpha, 'b.json': beta }, { 'a.json': beta, 'b.json': alpha }]) {
      await wh.db.deleteFrom('songs').execute();
      await wh.db.deleteFrom('loaded_files').execute();
      const summary = await load({}, files);
      expect(await wh.db.selectFrom('songs').select(['song_id', 'title', 'artist_name', 'duration']).execute()).toEqual([{ song_id: 'SO1', title: 'Beta', artist_name: 'Able', duration: 100 }]);
      expect(summary.transform.songs).toEqual({ inserted: 1, updated: 0 });
    }
    const later = await load({}, { 'c.json': alpha });
    expect(await wh.db.selectFrom('songs').select('title').execute()).toEqual([{ title: 'Alpha' }]);
    expect(later.transform.songs).toEqual({ inserted: 0, updated: 1 });
  });

  it('upsert counts: new keys are inserted, changed rows updated, unchanged rows neither', async () => {
    await load({}, { 'a.json': song({ song_id: 'SO1', title: 'One' }), 'b.json': song({ song_id: 'SO2', title: 'Two' }) });
    const summary = await load({}, { 'c.json': [song({ song_id: 'SO1', title: 'One!' }), song({ song_id: 'SO2', title: 'Two' }), song({ song_id: 'SO3', title: 'Three' }), song({ song_id: 'SO4', title: 'Four' })].join('\n') });
    expect(summary.transform.songs).toEqual({ inserted: 2, updated: 1 });
    expect(await wh.db.selectFrom('songs').select(['song_id', 'title']).orderBy('song_id').execute()).toEqual([
      { song_id: 'SO1', title: 'One!' },
      { song_id: 'SO2', title: 'Two' },
      { song_id: 'SO3', title: 'Three' },
      { song_id: 'SO4', title: 'Four' },
    ]);
    // NULL in the table and NULL in the source are the same value: no update.
    await load({}, { 'd.json': song({ song_id: 'SO5', title: null, year: 0 }) });
    const again = await load({}, { 'e.json': song({ song_id: 'SO5', title: null, year: 0 }) });
    expect(again.transform.songs).toEqual({ inserted: 0, updated: 0 });
    const changed = await load({}, { 'f.json': song({ song_id: 'SO5', title: 'Named', year: 0 }) });
    expect(changed.transform.songs).toEqual({ inserted: 0, updated: 1 });
    const unnamed = await load({}, { 'g.json': song({ song_id: 'SO5', title: null, year: 0 }) });
    expect(unnamed.transform.songs).toEqual({ inserted: 0, updated: 1 });
  });

  it('artists: the lowest song_id wins within a run; of that song staged twice, the last by content; locations trimmed, blank as NULL', async () => {
    await load({}, {
      'a.json': song({ song_id: 'SOB', artist_id: 'AR1', artist_name: 'B', artist_location: 'Rome' }),
      'b.json': song({ song_id: 'SOA', artist_id: 'AR1', artist_name: 'A1', artist_location: '  Lyon ' }),
      'c.json': song({ song_id: 'SOA', artist_id: 'AR1', artist_name: 'A2', artist_location: '  Lyon ' }),
      'd.json': song({ song_id: 'SOC', artist_id: 'AR2', artist_name: 'C', artist_location: '   ', artist_latitude: 1.5, artist_longitude: -2.5 }),
    });
    expect(await wh.db.selectFrom('artists').selectAll().orderBy('artist_id').execute()).toEqual([
      { artist_id: 'AR1', name: 'A2', location: 'Lyon', latitude: null, longitude: null, source_song_id: 'SOA' },
      { artist_id: 'AR2', name: 'C', location: null, latitude: 1.5, longitude: -2.5, source_song_id: 'SOC' },
    ]);
    // A later run's lower song_id takes over, with everything of its song.
    const summary = await load({}, { 'e.json': song({ song_id: 'SO0', artist_id: 'AR2', artist_name: 'Zero', artist_location: 'Oslo' }) });
    expect(summary.transform.artists).toEqual({ inserted: 0, updated: 1 });
    expect(await wh.db.selectFrom('artists').selectAll().where('artist_id', '=', 'AR2').execute()).toEqual([
      { artist_id: 'AR2', name: 'Zero', location: 'Oslo', latitude: null, longitude: null, source_song_id: 'SO0' },
    ]);
  });

  it('plays match the catalogue song with the lowest song_id among songs of the same title, artist name and duration', async () => {
    await load(
      { 'e.json': event({ page: 'NextSong', song: 'Same', artist: 'Band', length: 200 }) },
      {
        'a.json': song({ song_id: 'SO3', artist_id: 'AR3', title: 'Same', artist_name: 'Band', duration: 200 }),
        'b.json': song({ song_id: 'SO2', artist_id: 'AR2', title: 'Same', artist_name: 'Band', duration: 200 }),
        'c.json': song({ song_id: 'SO1', artist_id: 'AR1', title: 'Same', artist_name: 'Other', duration: 200 }),
      },
    );
    expect(await wh.db.selectFrom('songplays').select(['song_id', 'artist_id']).execute()).toEqual([{ song_id: 'SO2', artist_id: 'AR2' }]);
  });

  it('late links take the lowest song_id too, and only plays still unmatched', async () => {
    await load({
      'e.json': [
        event({ page: 'NextSong', song: 'Late', artist: 'Band', length: 100, itemInSession: 0 }),
        event({ page: 'NextSong', song: 'Late', artist: 'Band', length: 101, itemInSession: 1 }),
      ].join('\n'),
    });
    const summary = await load({}, {
      'a.json': song({ song_id: 'SO9', artist_id: 'AR9', title: 'Late', artist_name: 'Band', duration: 100 }),
      'b.json': song({ song_id: 'SO8', artist_id: 'AR8', title: 'Late', artist_name: 'Band', duration: 100 }),
    });
    expect(summary.transform.songplays.linked).toBe(1);
    expect(await wh.db.selectFrom('songplays').select(['item_in_session', 'song_id', 'artist_id']).orderBy('item_in_session').execute()).toEqual([
      { item_in_session: 0, song_id: 'SO8', artist_id: 'AR8' },
      { item_in_session: 1, song_id: null, artist_id: null },
    ]);
  });

  it('reports each step, dimensions first, time last', async () => {
    const steps: string[] = [];
    await wh.db.transaction().execute((trx) => transformStaged(trx, (table) => steps.push(table)));
    expect(steps).toEqual(['songs', 'artists', 'users', 'songplays', 'time']);
  });

  it('late links follow a song that only changed, too', async () => {
    await load({ 'e.json': event({ page: 'NextSong', song: 'Renamed', artist: 'Band', length: 100 }) }, { 'a.json': song({ song_id: 'SO1', title: 'Old name', artist_name: 'Band', duration: 100 }) });
    expect((await wh.db.selectFrom('songplays').select('song_id').executeTakeFirstOrThrow()).song_id).toBeNull();
    const summary = await load({}, { 'b.json': song({ song_id: 'SO1', title: 'Renamed', artist_name: 'Band', duration: 100 }) });
    expect(summary.transform.songs).toEqual({ inserted: 0, updated: 1 });
    expect(summary.transform.songplays.linked).toBe(1);
  });

  it('songplays: of one event staged twice with different content, the last by content wins', async () => {
    const free = event({ page: 'NextSong', song: 'S', artist: 'A', length: 1, level: 'free', location: 'Zurich' });
    const paid = event({ page: 'NextSong', song: 'S', artist: 'A', length: 1, level: 'paid', location: 'Aarau' });
    for (const files of [{ 'a.json': paid, 'b.json': free }, { 'a.json': free, 'b.json': paid }]) {
      for (const t of [...STAR_TABLES, 'loaded_files'] as const) await wh.db.deleteFrom(t).execute();
      await load(files);
      expect(await wh.db.selectFrom('songplays').select(['level', 'location']).execute()).toEqual([{ level: 'paid', location: 'Aarau' }]);
    }
  });

  it('songplays: the columns come from the event; a logged-out play has no user', async () => {
    await load({
      'a.json': [
        event({ page: 'NextSong', userId: '42', song: 'S', artist: 'A', length: 2.5, level: 'paid', location: 'L', userAgent: 'UA', sessionId: 3, itemInSession: 4, ts: T0 + 123 }),
        event({ page: 'NextSong', userId: '', song: 'S', artist: 'A', length: 2.5, sessionId: 3, itemInSession: 5, ts: T0 + 456 }),
        event({ page: 'Home', userId: '43', sessionId: 3, itemInSession: 6, ts: T0 + 789 }),
      ].join('\n'),
    });
    expect(await wh.db.selectFrom('songplays').select(['start_time', 'user_id', 'level', 'session_id', 'item_in_session', 'location', 'user_agent', 'song_title', 'artist_name', 'song_length']).orderBy('item_in_session').execute()).toEqual([
      { start_time: new Date(T0 + 123), user_id: 42, level: 'paid', session_id: 3, item_in_session: 4, location: 'L', user_agent: 'UA', song_title: 'S', artist_name: 'A', song_length: 2.5 },
      { start_time: new Date(T0 + 456), user_id: null, level: 'free', session_id: 3, item_in_session: 5, location: 'Boston, MA', user_agent: 'Mozilla/5.0', song_title: 'S', artist_name: 'A', song_length: 2.5 },
    ]);
    // Every user with an id, from any page; not the logged-out visitor.
    expect(await wh.db.selectFrom('users').select('user_id').orderBy('user_id').execute()).toEqual([{ user_id: 42 }, { user_id: 43 }]);
  });

  it('users: an event without a session counts as the latest of its millisecond, in one run or across runs, either order', async () => {
    const noSession = event({ userId: '7', firstName: 'NoSession', ts: T0, sessionId: null, itemInSession: 0 });
    const session = event({ userId: '7', firstName: 'Session5', ts: T0, sessionId: 5, itemInSession: 0 });
    const outcomes = [];
    const orders: Record<string, string>[][] = [[{ 'a.json': `${noSession}\n${session}` }], [{ 'a.json': noSession }, { 'b.json': session }], [{ 'b.json': session }, { 'a.json': noSession }]];
    for (const order of orders) {
      for (const t of [...STAR_TABLES, 'loaded_files'] as const) await wh.db.deleteFrom(t).execute();
      for (const files of order) await load(files);
      outcomes.push(await wh.db.selectFrom('users').select(['first_name', 'last_session_id']).executeTakeFirstOrThrow());
    }
    expect(outcomes).toEqual(Array(3).fill({ first_name: 'NoSession', last_session_id: null }));
  });

  it('users: a later item of the same session wins across runs; an earlier one does not', async () => {
    await load({ 'a.json': event({ userId: '7', firstName: 'Item2', ts: T0, sessionId: 5, itemInSession: 2 }) });
    const earlier = await load({ 'b.json': event({ userId: '7', firstName: 'Item1', ts: T0, sessionId: 5, itemInSession: 1 }) });
    expect(earlier.transform.users).toEqual({ inserted: 0, updated: 0 });
    const later = await load({ 'c.json': event({ userId: '7', firstName: 'Item3', ts: T0, sessionId: 5, itemInSession: 3 }) });
    expect(later.transform.users).toEqual({ inserted: 0, updated: 1 });
    const newerSession = await load({ 'd.json': event({ userId: '7', firstName: 'S6', ts: T0, sessionId: 6, itemInSession: 0 }) });
    expect(newerSession.transform.users).toEqual({ inserted: 0, updated: 1 });
    const olderSession = await load({ 'e.json': event({ userId: '7', firstName: 'S4', ts: T0, sessionId: 4, itemInSession: 9 }) });
    expect(olderSession.transform.users).toEqual({ inserted: 0, updated: 0 });
    expect(await wh.db.selectFrom('users').select(['first_name', 'last_session_id', 'last_item_in_session']).executeTakeFirstOrThrow()).toEqual({ first_name: 'S6', last_session_id: 6, last_item_in_session: 0 });
  });

  it('users: a later run bringing the very event the row comes from (a corrected file) replaces it', async () => {
    await load({ 'a.json': event({ userId: '7', firstName: 'Ann', level: 'free', ts: T0, sessionId: 5, itemInSession: 1 }) });
    const corrected = await load({ 'b.json': event({ userId: '7', firstName: 'Anne', level: 'paid', ts: T0, sessionId: 5, itemInSession: 1 }) });
    expect(corrected.transform.users).toEqual({ inserted: 0, updated: 1 });
    expect(await wh.db.selectFrom('users').select(['first_name', 'level']).execute()).toEqual([{ first_name: 'Anne', level: 'paid' }]);
  });

  it('users: of two events of one user at the same (ts, session, item), the last by content wins', async () => {
    await load({
      'a.json': [
        event({ userId: '7', firstName: 'Ann', lastName: 'Zed', ts: T0, sessionId: 5, itemInSession: 1 }),
        event({ userId: '7', firstName: 'Bea', lastName: 'Abe', ts: T0, sessionId: 5, itemInSession: 1 }),
        event({ userId: '7', firstName: 'Old', ts: T0 - 1, sessionId: 9, itemInSession: 9 }),
      ].join('\n'),
    });
    expect(await wh.db.selectFrom('users').select(['first_name', 'last_name']).execute()).toEqual([{ first_name: 'Bea', last_name: 'Abe' }]);
  });
});
