import type { Kysely } from 'kysely';
import type { Database } from '../types/database.js';

export interface PeriodOptions {
  /** Plays at or after this time. */
  from?: Date;
  /** Plays before this time. */
  to?: Date;
}

/** The most played songs among plays matched to the catalogue. */
export async function topSongs(db: Kysely<Database>, options: PeriodOptions & { limit?: number } = {}) {
  let query = db
    .selectFrom('songplays as p')
    .innerJoin('songs as s', 's.song_id', 'p.song_id')
    .innerJoin('artists as a', 'a.artist_id', 'p.artist_id')
    .select((eb) => ['s.song_id', 's.title', 'a.name as artist_name', eb.fn.countAll<number>().as('plays')])
    .groupBy(['s.song_id', 's.title', 'a.name'])
    .orderBy('plays', 'desc')
    .orderBy('s.song_id')
    .limit(options.limit ?? 10);
  if (options.from) query = query.where('p.start_time', '>=', options.from);
  if (options.to) query = query.where('p.start_time', '<', options.to);
  return query.execute();
}
