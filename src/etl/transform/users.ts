import { sql } from 'kysely';
import { timestampFromEpochMillis } from './expressions.js';
import type { UpsertRule } from './merge.js';

/**
 * users: every user with a non-empty userId in any event, page views included. Name, gender and
 * level come from the user's most recent event by ts; a load of older events never overwrites a
 * row taken from a newer one (precedence on last_seen_at).
 */
export const usersRule: UpsertRule<'users'> = {
  target: 'users',
  key: ['user_id'],
  columns: ['user_id', 'first_name', 'last_name', 'gender', 'level', 'last_seen_at'],
  precedence: { column: 'last_seen_at', wins: 'higher' },
  source: (db) =>
    db
      .selectFrom((sub) =>
        sub
          .selectFrom('staging_events')
          .where('user_id', '<>', sql.lit(''))
          .select((eb) => [
            sql<number>`cast(${eb.ref('user_id')} as integer)`.as('user_id'),
            'first_name',
            'last_name',
            'gender',
            'level',
            timestampFromEpochMillis(eb.ref('ts')).as('last_seen_at'),
            eb.fn
              .agg<number>('row_number')
              .over((o) =>
                o
                  .partitionBy('user_id')
                  .orderBy('ts', 'desc')
                  .orderBy('session_id', 'desc')
                  .orderBy('item_in_session', 'desc'),
              )
              .as('pick'),
          ])
          .as('e'),
      )
      .select(['user_id', 'first_name', 'last_name', 'gender', 'level', 'last_seen_at'])
      .where('pick', '=', sql.lit(1)),
};
