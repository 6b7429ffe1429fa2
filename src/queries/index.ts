import type { Kysely } from 'kysely';
import type { Database } from '../types/database.js';

/** A period of play times: [from, to). */
export interface PeriodOptions {
  /** Plays at or after this time. */
  from?: Date;
  /** Plays before this time. */
  to?: Date;
}

export interface TopOptions extends PeriodOptions {
  /** How many rows (default 10). */
  limit?: number;
}

/** Songplays as `p`, limited to a period: the base every helper builds on (extend it with joins). */
export function playsIn(db: Kysely<Database>, options: PeriodOptions = {}) {
  let query = db.selectFrom('songplays as p');
  if (options.from) query = query.where('p.start_time', '>=', options.from);
  if (options.to) query = query.where('p.start_time', '<', options.to);
  return query;
}

/**
 * The most played songs as played (the event's title and artist name), every play counted, as a
 * query to extend. `song_id`/`artist_id` are the catalogue's where some play of the song matched it
 * (the greatest of each where plays matched several catalogue songs: the same title and artist name
 * with other durations), else null: on the real sample almost no play matches the catalogue, so
 * ranking only matched plays (topCatalogueSongs) answers a different, much smaller question.
 */
export function topSongsQuery(db: Kysely<Database>, options: TopOptions = {}) {
  return playsIn(db, options)
    .where('p.song_title', 'is not', null)
    .select((eb) => [
      'p.song_title as title',
      'p.artist_name',
      eb.fn.countAll<number>().as('plays'),
      eb.fn.max('p.song_id').as('song_id'),
      eb.fn.max('p.artist_id').as('artist_id'),
    ])
    .groupBy(['p.song_title', 'p.artist_name'])
    .orderBy('plays', 'desc')
    .orderBy('p.song_title')
    .orderBy('p.artist_name')
    .limit(options.limit ?? 10);
}

/** The most played songs as played: `{ title, artist_name, plays, song_id, artist_id }[]` (ids null when unmatched). */
export async function topSongs(db: Kysely<Database>, options: TopOptions = {}): Promise<TopSong[]> {
  return topSongsQuery(db, options).execute();
}

/** A song as played, with its catalogue ids where it matched. */
export type TopSong = {
  title: string | null;
  artist_name: string | null;
  plays: number;
  song_id: string | null;
  artist_id: string | null;
};

/**
 * The most played artists as played (the event's artist name), every play counted, as a query to
 * extend. `artist_id` is the catalogue's where some play matched it (the greatest where plays
 * matched several artist ids of the name), else null.
 */
export function topArtistsQuery(db: Kysely<Database>, options: TopOptions = {}) {
  return playsIn(db, options)
    .where('p.artist_name', 'is not', null)
    .select((eb) => ['p.artist_name as name', eb.fn.countAll<number>().as('plays'), eb.fn.max('p.artist_id').as('artist_id')])
    .groupBy('p.artist_name')
    .orderBy('plays', 'desc')
    .orderBy('p.artist_name')
    .limit(options.limit ?? 10);
}

/** The most played artists as played: `{ name, plays, artist_id }[]` (artist_id null when unmatched). */
export async function topArtists(db: Kysely<Database>, options: TopOptions = {}): Promise<TopArtist[]> {
  return topArtistsQuery(db, options).execute();
}

/** An artist as played, with the catalogue's id where a play matched. */
export type TopArtist = {
  name: string | null;
  plays: number;
  artist_id: string | null;
};

/** The most played catalogue songs, counting only plays matched to the song catalogue, as a query to extend. */
export function topCatalogueSongsQuery(db: Kysely<Database>, options: TopOptions = {}) {
  return playsIn(db, options)
    .innerJoin('songs as s', 's.song_id', 'p.song_id')
    .innerJoin('artists as a', 'a.artist_id', 's.artist_id')
    .select((eb) => ['s.song_id', 's.title', 'a.name as artist_name', eb.fn.countAll<number>().as('plays')])
    .groupBy(['s.song_id', 's.title', 'a.name'])
    .orderBy('plays', 'desc')
    .orderBy('s.song_id')
    .limit(options.limit ?? 10);
}

/** Catalogue songs by matched plays only: `{ song_id, title, artist_name, plays }[]` (see topSongs for every play). */
export async function topCatalogueSongs(db: Kysely<Database>, options: TopOptions = {}) {
  return topCatalogueSongsQuery(db, options).execute();
}

/** A match rate as people read it: "60.2%", with two decimals below 1% so that 1 in 6,820 is not "0.0%". */
export function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%`;
}

/** The share of plays matched to the song catalogue: `{ plays, matched, rate }` (rate 0–1; 0 when there are no plays). */
export async function catalogueMatchRate(db: Kysely<Database>, options: PeriodOptions = {}): Promise<{ plays: number; matched: number; rate: number }> {
  const row = await playsIn(db, options)
    .select((eb) => [eb.fn.countAll<number>().as('plays'), eb.fn.count<number>('p.song_id').as('matched')])
    .executeTakeFirst();
  // Stryker disable next-line OptionalChaining: equivalent — an aggregate without GROUP BY always returns one row.
  const plays = Number(row?.plays ?? 0);
  // Stryker disable next-line OptionalChaining: equivalent — as above.
  const matched = Number(row?.matched ?? 0);
  return { plays, matched, rate: plays ? matched / plays : 0 };
}

/** Plays per value of a time column, every value in `keys` present in order (zero-filled). */
async function playsByTimePart<K extends 'hour' | 'weekday'>(db: Kysely<Database>, part: K, keys: number[], options: PeriodOptions) {
  const rows = await playsIn(db, options)
    .innerJoin('time as t', 't.start_time', 'p.start_time')
    .select((eb) => [eb.ref(`t.${part}` as 't.hour').as('k'), eb.fn.countAll<number>().as('plays')])
    .groupBy(`t.${part}`)
    .execute();
  const byKey = new Map(rows.map((r) => [r.k, r.plays]));
  return keys.map((k) => ({ [part]: k, plays: byKey.get(k) ?? 0 }) as { [P in K]: number } & { plays: number });
}

/** Plays per hour of day (UTC): 24 rows `{ hour, plays }`, hours 0–23 in order, zero-filled. */
export async function playsByHour(db: Kysely<Database>, options: PeriodOptions = {}) {
  return playsByTimePart(db, 'hour', Array.from({ length: 24 }, (_, h) => h), options);
}

/** Plays per weekday: 7 rows `{ weekday, plays }`, 0 = Sunday … 6 = Saturday, zero-filled. */
export async function playsByWeekday(db: Kysely<Database>, options: PeriodOptions = {}) {
  return playsByTimePart(db, 'weekday', [0, 1, 2, 3, 4, 5, 6], options);
}

/** Plays and distinct users per level at the time of play: `{ level, plays, users }[]`. */
export async function levelSplit(db: Kysely<Database>, options: PeriodOptions = {}) {
  return playsIn(db, options)
    .select((eb) => ['p.level', eb.fn.countAll<number>().as('plays'), eb.fn.count<number>('p.user_id').distinct().as('users')])
    .groupBy('p.level')
    .orderBy('p.level')
    .execute();
}

/** Distinct users with at least one play per UTC day: `{ year, month, day, users }[]` in date order. */
export async function dailyActiveUsers(db: Kysely<Database>, options: PeriodOptions = {}) {
  return playsIn(db, options)
    .innerJoin('time as t', 't.start_time', 'p.start_time')
    .select((eb) => ['t.year', 't.month', 't.day', eb.fn.count<number>('p.user_id').distinct().as('users')])
    .groupBy(['t.year', 't.month', 't.day'])
    .orderBy('t.year')
    .orderBy('t.month')
    .orderBy('t.day')
    .execute();
}

/** One user's profile and listening: plays, matched plays, first and last play; undefined if unknown. */
export async function userActivity(db: Kysely<Database>, userId: number) {
  const plays = db
    .selectFrom('songplays')
    .where('user_id', '=', userId)
    .select((eb) => [
      eb.fn.countAll<number>().as('plays'),
      eb.fn.count<number>('song_id').as('matched_plays'),
      // null for a user with no plays (min and max of no rows).
      eb.fn.min<Date | null>('start_time').as('first_play'),
      eb.fn.max<Date | null>('start_time').as('last_play'),
    ]);
  return db
    .selectFrom('users as u')
    .crossJoin(plays.as('a'))
    .where('u.user_id', '=', userId)
    .select(['u.user_id', 'u.first_name', 'u.last_name', 'u.gender', 'u.level', 'a.plays', 'a.matched_plays', 'a.first_play', 'a.last_play'])
    .executeTakeFirst();
}

/** Plays per UTC day with at least one play: `{ year, month, day, plays }[]` in date order. */
export async function playsByDay(db: Kysely<Database>, options: PeriodOptions = {}) {
  return playsIn(db, options)
    .innerJoin('time as t', 't.start_time', 'p.start_time')
    .select((eb) => ['t.year', 't.month', 't.day', eb.fn.countAll<number>().as('plays')])
    .groupBy(['t.year', 't.month', 't.day'])
    .orderBy('t.year')
    .orderBy('t.month')
    .orderBy('t.day')
    .execute();
}

/**
 * Users who upgraded: a paid play after a free one, within the period. `{ user_id, first_name,
 * last_name, upgraded_at }[]`, upgraded_at being the first paid play after the user's first free one.
 */
export async function upgradedUsers(db: Kysely<Database>, options: PeriodOptions = {}) {
  const firstFree = playsIn(db, options)
    .where('p.level', '=', 'free')
    .where('p.user_id', 'is not', null)
    .select((eb) => ['p.user_id', eb.fn.min('p.start_time').as('free_at')])
    .groupBy('p.user_id');
  return playsIn(db, options)
    .innerJoin(firstFree.as('f'), 'f.user_id', 'p.user_id')
    .leftJoin('users as u', 'u.user_id', 'p.user_id')
    .where('p.level', '=', 'paid')
    .whereRef('p.start_time', '>', 'f.free_at')
    .select((eb) => ['p.user_id', 'u.first_name', 'u.last_name', eb.fn.min<Date>('p.start_time').as('upgraded_at')])
    .groupBy(['p.user_id', 'u.first_name', 'u.last_name'])
    .orderBy('upgraded_at')
    .orderBy('p.user_id')
    // Only plays with a user have a first free play to join: user_id is never null here.
    .$narrowType<{ user_id: number }>()
    .execute();
}
