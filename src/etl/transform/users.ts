import { type Kysely, sql } from 'kysely';
import type { Database } from '../../types/database.js';
import { byContent, timestampFromEpochMillis } from './expressions.js';
import type { UpsertRule } from './merge.js';

/** Each user's latest ts among the staged events: a hash aggregate, where a window would sort every event. */
function latestTs(db: Kysely<Database>) {
  return db
    .selectFrom('staging_events')
    .where('user_id', '<>', sql.lit(''))
    .select((eb) => ['user_id', eb.fn.max('ts').as('ts')])
    .groupBy('user_id');
}

/**
 * users: every user with a non-empty userId in any event, page views included. Name, gender and
 * level come from the user's most recent event by ts (ties: the later session, then the later item,
 * then by content);
 * a load of older events never overwrites a row taken from a newer one, in the same order: (ts,
 * session, item), kept in the row, so the result does not depend on the order files are loaded in.
 * A later load of the very event the row comes from (a file corrected in place) replaces it.
 */
export const usersRule: UpsertRule<'users'> = {
  target: 'users',
  key: ['user_id'],
  columns: ['user_id', 'first_name', 'last_name', 'gender', 'level', 'last_seen_at', 'last_session_id', 'last_item_in_session'],
  // A tie is the same event brought again (a corrected file): its new content replaces the old, as for songplays.
  precedence: { columns: ['last_seen_at', 'last_session_id', 'last_item_in_session'], wins: 'higher', ties: 'replace' },
  source: (db) =>
    db
      .selectFrom((sub) =>
        sub
          .selectFrom('staging_events as e')
          .innerJoin(latestTs(db).as('l'), (join) => join.onRef('l.user_id', '=', 'e.user_id').onRef('l.ts', '=', 'e.ts'))
          .select((eb) => [
            sql<number>`cast(${eb.ref('e.user_id')} as integer)`.as('user_id'),
            'e.first_name',
            'e.last_name',
            'e.gender',
            'e.level',
            timestampFromEpochMillis(eb.ref('e.ts')).as('last_seen_at'),
            'e.session_id as last_session_id',
            'e.item_in_session as last_item_in_session',
            eb.fn
              .agg<number>('row_number')
              .over((o) =>
                byContent(o.partitionBy('e.user_id').orderBy('e.session_id', 'desc').orderBy('e.item_in_session', 'desc'), [
                  'e.first_name',
                  'e.last_name',
                  'e.gender',
                  'e.level',
                ]),
              )
              .as('pick'),
          ])
          .as('u'),
      )
      .select(['user_id', 'first_name', 'last_name', 'gender', 'level', 'last_seen_at', 'last_session_id', 'last_item_in_session'])
      .where('pick', '=', sql.lit(1)),
};
