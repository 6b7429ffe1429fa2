import { sql } from 'kysely';
import { datePart, timestampFromEpochMillis } from './expressions.js';
import type { UpsertRule } from './merge.js';

/** time: one row per distinct songplay start_time, broken into its parts (weekday 0 = Sunday). */
export const timeRule: UpsertRule<'time'> = {
  target: 'time',
  key: ['start_time'],
  // Stryker disable next-line StringLiteral: equivalent — Redshift's layout of the MERGE source (where rows live), not the rows.
  distKey: 'start_time',
  columns: ['start_time', 'hour', 'day', 'week', 'month', 'year', 'weekday'],
  source: (db) =>
    db
      .selectFrom((sub) =>
        sub
          .selectFrom('staging_events')
          .where('page', '=', sql.lit('NextSong'))
          .select((eb) => timestampFromEpochMillis(eb.ref('ts')).as('start_time'))
          .distinct()
          .as('t'),
      )
      .select((eb) => [
        'start_time',
        datePart('hour', eb.ref('start_time')).as('hour'),
        datePart('day', eb.ref('start_time')).as('day'),
        datePart('week', eb.ref('start_time')).as('week'),
        datePart('month', eb.ref('start_time')).as('month'),
        datePart('year', eb.ref('start_time')).as('year'),
        datePart('dow', eb.ref('start_time')).as('weekday'),
      ]),
};
