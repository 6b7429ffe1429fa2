import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogueMatchRate,
  dailyActiveUsers,
  formatRate,
  levelSplit,
  playsByDay,
  playsByHour,
  playsByWeekday,
  topArtists,
  topCatalogueSongs,
  topSongs,
  upgradedUsers,
  userActivity,
} from '../src/queries/index.js';
import type { Database } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';

// The query helpers on a small warehouse written by hand, star rows inserted directly: every
// expected value below was counted by hand from the table of plays, not computed by the code.

const at = (iso: string) => new Date(`${iso}Z`);

type Play = readonly [string, string, number | null, string, string | null, string | null, number, number, string | null, string | null];
/** A songplays row of a line of PLAYS. */
const playRow = ([, t, user_id, level, song_id, artist_id, session_id, item_in_session, song_title, artist_name]: Play) => ({
  start_time: at(t),
  user_id,
  level,
  song_id,
  artist_id,
  session_id,
  item_in_session,
  song_title,
  artist_name,
  location: null,
  user_agent: null,
  song_length: null,
});

//   id   start_time (UTC)       user level  song  artist  session item  title       artist name
const PLAYS = [
  ['p1', '2018-11-05T10:15:00', 1, 'free', 'SO1', 'AR1', 1, 0, 'Song One', 'Band A'],
  ['p2', '2018-11-05T10:45:00', 1, 'free', null, null, 1, 1, 'Other', 'Band C'],
  ['p3', '2018-11-06T08:00:00', 1, 'paid', 'SO1', 'AR1', 2, 0, 'Song One', 'Band A'],
  ['p4', '2018-11-06T08:05:00', 2, 'free', null, null, 3, 0, 'Song One', 'Band A'],
  ['p5', '2018-11-07T23:59:00', 3, 'paid', 'SO2', 'AR2', 4, 0, 'Song Two', 'Band B'],
  ['p6', '2018-11-07T23:59:30', 2, 'free', null, null, 3, 1, 'Other', 'Band C'],
  ['p7', '2018-11-08T00:00:00', null, 'free', null, null, 5, 0, null, null],
  ['p8', '2018-11-04T12:00:00', 2, 'paid', null, null, 6, 0, 'Zed', 'Band C'],
  ['p9', '2018-11-08T01:00:00', 3, 'paid', null, null, 7, 0, 'Zed', 'Band A'],
  ['p10', '2018-10-31T20:00:00', 3, 'paid', null, null, 8, 0, 'Other', 'Band C'],
  ['p11', '2018-11-05T09:00:00', 5, 'free', null, null, 9, 0, null, null],
  ['p12', '2018-11-06T08:00:00', 5, 'paid', null, null, 9, 1, null, null],
  ['p13', '2018-11-08T00:00:00', 5, 'paid', null, null, 9, 2, null, null],
] as const;

// The time rows, parts written out by hand (weekday 0 = Sunday; ISO weeks).
//   start_time              hour day week month year weekday
const TIME = [
  ['2018-10-31T20:00:00', 20, 31, 44, 10, 2018, 3],
  ['2018-11-04T12:00:00', 12, 4, 44, 11, 2018, 0],
  ['2018-11-05T09:00:00', 9, 5, 45, 11, 2018, 1],
  ['2018-11-05T10:15:00', 10, 5, 45, 11, 2018, 1],
  ['2018-11-05T10:45:00', 10, 5, 45, 11, 2018, 1],
  ['2018-11-06T08:00:00', 8, 6, 45, 11, 2018, 2],
  ['2018-11-06T08:05:00', 8, 6, 45, 11, 2018, 2],
  ['2018-11-07T23:59:00', 23, 7, 45, 11, 2018, 3],
  ['2018-11-07T23:59:30', 23, 7, 45, 11, 2018, 3],
  ['2018-11-08T00:00:00', 0, 8, 45, 11, 2018, 4],
  ['2018-11-08T01:00:00', 1, 8, 45, 11, 2018, 4],
] as const;

describe('query helpers on a warehouse written by hand', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    await wh.db
      .insertInto('songs')
      .values([
        { song_id: 'SO1', title: 'Song One', artist_id: 'AR1', artist_name: 'Band A', year: 2001, duration: 200 },
        { song_id: 'SO2', title: 'Song Two', artist_id: 'AR2', artist_name: 'Band B', year: null, duration: 100 },
      ])
      .execute();
    await wh.db
      .insertInto('artists')
      .values([
        { artist_id: 'AR1', name: 'Band A', location: null, latitude: null, longitude: null, source_song_id: 'SO1' },
        { artist_id: 'AR2', name: 'Band B', location: null, latitude: null, longitude: null, source_song_id: 'SO2' },
      ])
      .execute();
    const seen = at('2018-11-08T01:00:00');
    await wh.db
      .insertInto('users')
      .values([
        { user_id: 1, first_name: 'Ann', last_name: 'Lee', gender: 'F', level: 'paid', last_seen_at: seen },
        { user_id: 2, first_name: 'Bob', last_name: 'Ray', gender: 'M', level: 'free', last_seen_at: seen },
        { user_id: 3, first_name: 'Cy', last_name: 'Fu', gender: 'F', level: 'paid', last_seen_at: seen },
        { user_id: 4, first_name: 'Di', last_name: 'No', gender: 'F', level: 'free', last_seen_at: seen },
      ])
      .execute();
    await wh.db
      .insertInto('time')
      .values(TIME.map(([t, hour, day, week, month, year, weekday]) => ({ start_time: at(t), hour, day, week, month, year, weekday })))
      .execute();
    await wh.db.insertInto('songplays').values(PLAYS.map(playRow)).execute();
  });
  afterAll(() => wh.close());

  /** Runs `check` on the warehouse with `plays` added (and the catalogue rows `write` adds), then rolls them back. */
  async function withPlays(plays: Play[], check: (db: Kysely<Database>) => Promise<void>, write: (db: Kysely<Database>) => Promise<unknown> = async () => {}) {
    await wh.db
      .transaction()
      .execute(async (trx) => {
        await write(trx);
        await trx.insertInto('songplays').values(plays.map(playRow)).execute();
        await check(trx);
        throw new Error('roll back');
      })
      .catch((e: Error) => expect(e.message).toBe('roll back'));
  }

  it('topSongs: every play with a title counted, most played first, ties by title then artist; catalogue ids where a play matched', async () => {
    expect(await topSongs(wh.db)).toEqual([
      { title: 'Other', artist_name: 'Band C', plays: 3, song_id: null, artist_id: null },
      { title: 'Song One', artist_name: 'Band A', plays: 3, song_id: 'SO1', artist_id: 'AR1' },
      { title: 'Song Two', artist_name: 'Band B', plays: 1, song_id: 'SO2', artist_id: 'AR2' },
      { title: 'Zed', artist_name: 'Band A', plays: 1, song_id: null, artist_id: null },
      { title: 'Zed', artist_name: 'Band C', plays: 1, song_id: null, artist_id: null },
    ]);
    expect((await topSongs(wh.db, { limit: 2 })).map((s) => s.title)).toEqual(['Other', 'Song One']);
  });

  it('a period is [from, to): from included, to excluded', async () => {
    const period = { from: at('2018-11-05T10:15:00'), to: at('2018-11-07T23:59:30') }; // p1 … p5, p12
    expect((await topSongs(wh.db, period)).map((s) => [s.title, s.plays])).toEqual([
      ['Song One', 3],
      ['Other', 1],
      ['Song Two', 1],
    ]);
    expect(await catalogueMatchRate(wh.db, period)).toEqual({ plays: 6, matched: 3, rate: 0.5 });
    expect(await catalogueMatchRate(wh.db, { from: at('2018-11-09T00:00:00') })).toEqual({ plays: 0, matched: 0, rate: 0 });
    expect(await catalogueMatchRate(wh.db, { to: at('2018-11-04T12:00:00') })).toEqual({ plays: 1, matched: 0, rate: 0 });
  });

  it('topArtists: every play with an artist counted, ties by name; topCatalogueSongs: matched plays only', async () => {
    expect(await topArtists(wh.db)).toEqual([
      { name: 'Band A', plays: 4, artist_id: 'AR1' },
      { name: 'Band C', plays: 4, artist_id: null },
      { name: 'Band B', plays: 1, artist_id: 'AR2' },
    ]);
    expect(await topArtists(wh.db, { limit: 1, from: at('2018-11-05T00:00:00') })).toEqual([{ name: 'Band A', plays: 4, artist_id: 'AR1' }]);
    expect(await topCatalogueSongs(wh.db)).toEqual([
      { song_id: 'SO1', title: 'Song One', artist_name: 'Band A', plays: 2 },
      { song_id: 'SO2', title: 'Song Two', artist_name: 'Band B', plays: 1 },
    ]);
    expect(await topCatalogueSongs(wh.db, { limit: 1, to: at('2018-11-06T00:00:00') })).toEqual([{ song_id: 'SO1', title: 'Song One', artist_name: 'Band A', plays: 1 }]);
    expect(await topCatalogueSongs(wh.db, { limit: 1 })).toEqual([{ song_id: 'SO1', title: 'Song One', artist_name: 'Band A', plays: 2 }]);
  });

  it('topSongs and topArtists: plays of one song matched to several catalogue songs (same title and artist name, another duration) show the greatest ids', async () => {
    const catalogue = async (db: Kysely<Database>) => {
      await db.insertInto('songs').values({ song_id: 'SO3', title: 'Song One', artist_id: 'AR3', artist_name: 'Band A', year: null, duration: 250 }).execute();
      await db.insertInto('artists').values({ artist_id: 'AR3', name: 'Band A', location: null, latitude: null, longitude: null, source_song_id: 'SO3' }).execute();
    };
    await withPlays([['p14', '2018-11-09T10:00:00', 4, 'free', 'SO3', 'AR3', 10, 0, 'Song One', 'Band A']], async (db) => {
      expect(await topSongs(db, { limit: 1 })).toEqual([{ title: 'Song One', artist_name: 'Band A', plays: 4, song_id: 'SO3', artist_id: 'AR3' }]);
      expect(await topArtists(db, { limit: 1 })).toEqual([{ name: 'Band A', plays: 5, artist_id: 'AR3' }]);
    }, catalogue);
  });

  it('catalogueMatchRate: matched plays over all plays', async () => {
    expect(await catalogueMatchRate(wh.db)).toEqual({ plays: 13, matched: 3, rate: 3 / 13 });
  });

  it('playsByHour and playsByWeekday: every hour and weekday, zero-filled, in order', async () => {
    const hours = new Map([[0, 2], [1, 1], [8, 3], [9, 1], [10, 2], [12, 1], [20, 1], [23, 2]]);
    expect(await playsByHour(wh.db)).toEqual(Array.from({ length: 24 }, (_, hour) => ({ hour, plays: hours.get(hour) ?? 0 })));
    expect(await playsByWeekday(wh.db)).toEqual([
      { weekday: 0, plays: 1 },
      { weekday: 1, plays: 3 },
      { weekday: 2, plays: 3 },
      { weekday: 3, plays: 3 },
      { weekday: 4, plays: 3 },
      { weekday: 5, plays: 0 },
      { weekday: 6, plays: 0 },
    ]);
    const narrow = await playsByHour(wh.db, { from: at('2018-11-06T00:00:00'), to: at('2018-11-07T00:00:00') });
    expect(narrow.filter((h) => h.plays)).toEqual([{ hour: 8, plays: 3 }]);
    expect((await playsByWeekday(wh.db, { to: at('2018-11-05T00:00:00') })).filter((d) => d.plays)).toEqual([
      { weekday: 0, plays: 1 },
      { weekday: 3, plays: 1 },
    ]);
  });

  it('levelSplit: plays and distinct known users per level', async () => {
    expect(await levelSplit(wh.db)).toEqual([
      { level: 'free', plays: 6, users: 3 },
      { level: 'paid', plays: 7, users: 4 },
    ]);
    expect(await levelSplit(wh.db, { from: at('2018-11-08T00:00:00') })).toEqual([
      { level: 'free', plays: 1, users: 0 },
      { level: 'paid', plays: 2, users: 2 },
    ]);
  });

  it('dailyActiveUsers and playsByDay: per UTC day, in date order across months', async () => {
    expect(await dailyActiveUsers(wh.db)).toEqual([
      { year: 2018, month: 10, day: 31, users: 1 },
      { year: 2018, month: 11, day: 4, users: 1 },
      { year: 2018, month: 11, day: 5, users: 2 },
      { year: 2018, month: 11, day: 6, users: 3 },
      { year: 2018, month: 11, day: 7, users: 2 },
      { year: 2018, month: 11, day: 8, users: 2 },
    ]);
    expect(await playsByDay(wh.db)).toEqual([
      { year: 2018, month: 10, day: 31, plays: 1 },
      { year: 2018, month: 11, day: 4, plays: 1 },
      { year: 2018, month: 11, day: 5, plays: 3 },
      { year: 2018, month: 11, day: 6, plays: 3 },
      { year: 2018, month: 11, day: 7, plays: 2 },
      { year: 2018, month: 11, day: 8, plays: 3 },
    ]);
    expect(await playsByDay(wh.db, { from: at('2018-11-07T00:00:00'), to: at('2018-11-08T00:00:00') })).toEqual([{ year: 2018, month: 11, day: 7, plays: 2 }]);
    expect(await dailyActiveUsers(wh.db, { from: at('2018-11-08T00:00:00') })).toEqual([{ year: 2018, month: 11, day: 8, users: 2 }]);
  });

  it('userActivity: profile, plays, matched plays, first and last play; undefined for an unknown user', async () => {
    expect(await userActivity(wh.db, 1)).toEqual({
      user_id: 1,
      first_name: 'Ann',
      last_name: 'Lee',
      gender: 'F',
      level: 'paid',
      plays: 3,
      matched_plays: 2,
      first_play: at('2018-11-05T10:15:00'),
      last_play: at('2018-11-06T08:00:00'),
    });
    expect(await userActivity(wh.db, 4)).toMatchObject({ user_id: 4, plays: 0, matched_plays: 0, first_play: null, last_play: null });
    expect(await userActivity(wh.db, 99)).toBeUndefined();
  });

  it('upgradedUsers: a paid play after the first free one, at the first such play; ties by user id; not a paid play before', async () => {
    const upgraded = [
      { user_id: 1, first_name: 'Ann', last_name: 'Lee', upgraded_at: at('2018-11-06T08:00:00') },
      // User 5 has plays but no users row: names are null.
      { user_id: 5, first_name: null, last_name: null, upgraded_at: at('2018-11-06T08:00:00') },
    ];
    expect(await upgradedUsers(wh.db)).toEqual(upgraded);
    // The period bounds both the free and the paid play.
    expect(await upgradedUsers(wh.db, { to: at('2018-11-06T08:00:00') })).toEqual([]);
    expect(await upgradedUsers(wh.db, { from: at('2018-11-05T10:00:00') })).toEqual([upgraded[0]]);
    // User 2 (free on the 6th and the 7th) pays between the two: upgraded, counted from the first free play.
    await withPlays([['p14', '2018-11-07T00:00:00', 2, 'paid', null, null, 10, 0, null, null]], async (db) => {
      expect(await upgradedUsers(db)).toEqual([...upgraded, { user_id: 2, first_name: 'Bob', last_name: 'Ray', upgraded_at: at('2018-11-07T00:00:00') }]);
    });
  });
});

describe('formatRate', () => {
  it('one decimal, two below 1% (but not at 0)', () => {
    expect(formatRate(0.602)).toBe('60.2%');
    expect(formatRate(1)).toBe('100.0%');
    expect(formatRate(0)).toBe('0.0%');
    expect(formatRate(0.01)).toBe('1.0%');
    expect(formatRate(0.0099)).toBe('0.99%');
    expect(formatRate(1 / 6820)).toBe('0.01%');
  });
});
