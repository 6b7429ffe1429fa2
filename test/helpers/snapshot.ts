import type { Kysely } from 'kysely';
import type { Database } from '../../src/types/database.js';

/** The star tables' contents in key order, in the shape expectedStar() gives (surrogate ids left out). */
export async function starSnapshot(db: Kysely<Database>) {
  return {
    songs: await db.selectFrom('songs').select(['song_id', 'title', 'artist_id', 'artist_name', 'year', 'duration']).orderBy('song_id').execute(),
    artists: await db
      .selectFrom('artists')
      .select(['artist_id', 'name', 'location', 'latitude', 'longitude', 'source_song_id'])
      .orderBy('artist_id')
      .execute(),
    users: await db.selectFrom('users').select(['user_id', 'first_name', 'last_name', 'gender', 'level', 'last_seen_at']).orderBy('user_id').execute(),
    songplays: await db
      .selectFrom('songplays')
      .select(['start_time', 'user_id', 'level', 'song_id', 'artist_id', 'session_id', 'item_in_session', 'location', 'user_agent', 'song_title', 'artist_name', 'song_length'])
      .orderBy('start_time')
      .orderBy('session_id')
      .orderBy('item_in_session')
      .execute(),
    time: await db.selectFrom('time').selectAll().orderBy('start_time').execute(),
  };
}
