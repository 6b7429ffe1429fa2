import { sql } from 'kysely';
import { byContent } from './expressions.js';
import type { UpsertRule } from './merge.js';

/**
 * songs: one row per song_id. When a run stages the same song_id more than once, the record that
 * sorts last by its content wins (see byContent); a later run's record replaces an earlier run's.
 * A year of 0 means "unknown" in the Million Song Dataset: NULL.
 */
/** The content that decides between two records of one song_id staged in one run (see byContent). */
export const SONG_CONTENT = ['title', 'artist_id', 'artist_name', 'year', 'duration'] as const;

export const songsRule: UpsertRule<'songs'> = {
  target: 'songs',
  key: ['song_id'],
  // Stryker disable next-line StringLiteral: equivalent — Redshift's layout of the MERGE source (where rows live), not the rows.
  distKey: 'song_id',
  columns: ['song_id', 'title', 'artist_id', 'artist_name', 'year', 'duration'],
  source: (db) =>
    db
      .selectFrom((sub) =>
        sub
          .selectFrom('staging_songs')
          .select((eb) => [
            'song_id',
            'title',
            'artist_id',
            'artist_name',
            eb.fn<number | null>('nullif', ['year', eb.lit(0)]).as('year'),
            'duration',
            eb.fn
              .agg<number>('row_number')
              .over((o) => byContent(o.partitionBy('song_id'), SONG_CONTENT))
              .as('pick'),
          ])
          .as('s'),
      )
      .select(['song_id', 'title', 'artist_id', 'artist_name', 'year', 'duration'])
      .where('pick', '=', sql.lit(1)),
};
