import type { Kysely } from 'kysely';

// users takes name, gender and level from the user's latest event. Within a run, events with the
// same ts are ordered by session, then item; across runs the "never overwrite newer state" rule
// compared last_seen_at alone, so two events in the same millisecond gave a row that depended on
// which file was loaded first. The row now keeps the event's session and item, and a later load
// replaces it only when its event comes later in the same order: (ts, session, item).

/** Keeps the session and item of the event each users row came from. */
export async function up(db: Kysely<any>): Promise<void> {
  // One column per ALTER TABLE: https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
  await db.schema.alterTable('users').addColumn('last_session_id', 'integer').execute();
  await db.schema.alterTable('users').addColumn('last_item_in_session', 'integer').execute();
}

/** Drops them. */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('last_item_in_session').execute();
  await db.schema.alterTable('users').dropColumn('last_session_id').execute();
}
