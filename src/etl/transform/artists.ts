import { sql } from 'kysely';
import { byContent } from './expressions.js';
import type { UpsertRule } from './merge.js';
import { SONG_CONTENT } from './songs.js';

/**
 * artists: one row per artist_id. The Million Song Dataset credits one artist_id under several
 * names and locations, so the row comes from the artist's song with the lowest song_id, across
 * all loads: a later load replaces it only with a song whose id sorts lower, or with a new record
 * of that same song (as the songs row is replaced). One run staging that song twice takes the
 * record the songs rule keeps (by SONG_CONTENT, then by the artist's own fields; see byContent), so
 * the artist row and the song row come from one record. Empty locations are NULL.
 */
export const artistsRule: UpsertRule<'artists'> = {
  target: 'artists',
  key: ['artist_id'],
  columns: ['artist_id', 'name', 'location', 'latitude', 'longitude', 'source_song_id'],
  // Stryker disable next-line StringLiteral: equivalent — anything but 'higher' means lower (holdsItsPlace).
  precedence: { columns: ['source_song_id'], wins: 'lower', ties: 'replace' },
  source: (db) =>
    db
      .selectFrom((sub) =>
        sub
          .selectFrom('staging_songs')
          .select((eb) => [
            'artist_id',
            'artist_name as name',
            eb.fn<string | null>('nullif', [eb.fn('trim', ['artist_location']), sql.lit('')]).as('location'),
            'artist_latitude as latitude',
            'artist_longitude as longitude',
            'song_id as source_song_id',
            eb.fn
              .agg<number>('row_number')
              .over((o) =>
                byContent(o.partitionBy('artist_id').orderBy('song_id', 'asc'), [...SONG_CONTENT, 'artist_location', 'artist_latitude', 'artist_longitude']),
              )
              .as('pick'),
          ])
          .as('a'),
      )
      .select(['artist_id', 'name', 'location', 'latitude', 'longitude', 'source_song_id'])
      .where('pick', '=', sql.lit(1)),
};
