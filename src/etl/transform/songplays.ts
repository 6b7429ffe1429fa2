import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../../types/database.js';
import { byContent, timestampFromEpochMillis } from './expressions.js';
import type { UpsertRule } from './merge.js';

/**
 * The catalogue as plays are matched against it: one song per (title, credited artist name,
 * duration), the lowest song_id where the catalogue holds duplicates (songplaysRule picks the same
 * song within its own window).
 */
function catalogue(db: Kysely<Database>) {
  return db
    .selectFrom((sub) =>
      sub
        .selectFrom('songs')
        .select((eb) => [
          'song_id',
          'artist_id',
          'title',
          'artist_name',
          'duration',
          eb.fn
            .agg<number>('row_number')
            .over((o) => o.partitionBy(['title', 'artist_name', 'duration']).orderBy('song_id'))
            .as('pick'),
        ])
        .as('c'),
    )
    .select(['song_id', 'artist_id', 'title', 'artist_name', 'duration'])
    .where('pick', '=', sql.lit(1));
}

/**
 * songplays: exactly one row per NextSong event, ever, keyed by (start_time, session_id,
 * item_in_session). song_id/artist_id come from matching the event's song title, artist name and
 * length exactly against the catalogue; a play with no match keeps NULLs and is never dropped.
 */
export const songplaysRule: UpsertRule<'songplays'> = {
  target: 'songplays',
  key: ['start_time', 'session_id', 'item_in_session'],
  // Stryker disable next-line StringLiteral: equivalent — Redshift's layout of the MERGE source (where rows live), not the rows.
  distKey: 'start_time',
  columns: [
    'start_time',
    'user_id',
    'level',
    'song_id',
    'artist_id',
    'session_id',
    'item_in_session',
    'location',
    'user_agent',
    'song_title',
    'artist_name',
    'song_length',
  ],
  // The catalogue is joined before the duplicate events are dropped: the planner sizes the staged
  // events well but not a window's `pick = 1` filter, and on that misestimate it nested-looped the
  // catalogue join (2.6k events × 15k songs: 1.5 s instead of 10 ms). It is joined whole, not as
  // catalogue() gives it: an event matching songs the catalogue repeats joins each of them, and the
  // window that drops duplicate events keeps the lowest song_id, as catalogue() would, without a
  // window over every song (15,000 songs: a sort of 20–30 ms per run).
  source: (db) =>
    db
      .selectFrom((sub) =>
        sub
          // start_time is computed in a subquery so that the window below can partition by it
          // (Kysely's partitionBy takes column references): its sort is then the key order the
          // bulk insert wants, and no second sort follows (1M events: 0.5 s).
          .selectFrom((events) =>
            events
              .selectFrom('staging_events')
              .selectAll()
              .select((eb) => timestampFromEpochMillis(eb.ref('ts')).as('start_time'))
              .where('page', '=', sql.lit('NextSong'))
              .as('e'),
          )
          .leftJoin('songs as m', (join) =>
            join.onRef('m.title', '=', 'e.song').onRef('m.artist_name', '=', 'e.artist').onRef('m.duration', '=', 'e.length'),
          )
          .select((eb) => [
            'e.start_time',
            sql<number | null>`cast(nullif(${eb.ref('e.user_id')}, '') as integer)`.as('user_id'),
            'e.level',
            'm.song_id',
            'm.artist_id',
            'e.session_id',
            'e.item_in_session',
            'e.location',
            'e.user_agent',
            'e.song as song_title',
            'e.artist as artist_name',
            'e.length as song_length',
            // The same event staged twice (overlapping files) counts once; if the copies differ, by
            // content; a copy matching several songs, the lowest song_id.
            eb.fn
              .agg<number>('row_number')
              .over((o) =>
                byContent(o.partitionBy(['e.start_time', 'e.session_id', 'e.item_in_session']), [
                  'e.user_id',
                  'e.level',
                  'e.song',
                  'e.artist',
                  'e.length',
                  'e.location',
                  'e.user_agent',
                ]).orderBy('m.song_id'),
              )
              .as('pick'),
          ])
          .as('p'),
      )
      .where('p.pick', '=', sql.lit(1))
      .select([
        'p.start_time',
        'p.user_id',
        'p.level',
        'p.song_id',
        'p.artist_id',
        'p.session_id',
        'p.item_in_session',
        'p.location',
        'p.user_agent',
        'p.song_title',
        'p.artist_name',
        'p.song_length',
      ]),
};

/**
 * Links plays loaded before their song was in the catalogue, and moves plays to a song with a lower
 * song_id that has arrived since (the catalogue repeating itself: the lowest wins, whatever the load
 * order); returns how many it linked or moved.
 */
export async function linkLateSongs(trx: Transaction<Database>): Promise<number> {
  const result = await trx
    .updateTable('songplays')
    .from(catalogue(trx).as('m'))
    .set((eb) => ({ song_id: eb.ref('m.song_id'), artist_id: eb.ref('m.artist_id') }))
    // Redshift has no IS DISTINCT FROM.
    .where((eb) => eb.or([eb('songplays.song_id', 'is', null), eb('songplays.song_id', '<>', eb.ref('m.song_id'))]))
    .whereRef('m.title', '=', 'songplays.song_title')
    .whereRef('m.artist_name', '=', 'songplays.artist_name')
    .whereRef('m.duration', '=', 'songplays.song_length')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
