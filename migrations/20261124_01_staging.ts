import type { Kysely } from 'kysely';
import { createTableWithLayout, dropTable } from '../src/db/ddl.js';

// Staging mirrors the JSON one column per field, loaded as-is; transforms clean it up.
// Column sizes are bytes (Redshift's VARCHAR unit) and fit the full Million Song and eventsim data.
// Staging tables take no distribution key: EVEN spreads COPY work over every slice
// (https://docs.aws.amazon.com/redshift/latest/dg/c_choosing_dist_sort.html).

/** Creates the staging tables that COPY fills. */
export async function up(db: Kysely<any>): Promise<void> {
  await createTableWithLayout(db, 'staging_events', { distribution: { style: 'even' }, staging: true }, (t) =>
    t
      .addColumn('artist', 'varchar(512)')
      .addColumn('auth', 'varchar(32)')
      .addColumn('first_name', 'varchar(256)')
      .addColumn('gender', 'varchar(16)')
      .addColumn('item_in_session', 'integer')
      .addColumn('last_name', 'varchar(256)')
      .addColumn('length', 'double precision')
      .addColumn('level', 'varchar(16)')
      .addColumn('location', 'varchar(512)')
      .addColumn('method', 'varchar(16)')
      .addColumn('page', 'varchar(64)', (c) => c.notNull())
      .addColumn('registration', 'double precision')
      .addColumn('session_id', 'integer')
      .addColumn('song', 'varchar(512)')
      .addColumn('status', 'integer')
      .addColumn('ts', 'bigint', (c) => c.notNull())
      .addColumn('user_agent', 'varchar(1024)')
      .addColumn('user_id', 'varchar(32)')
      .addColumn('source_file', 'varchar(1024)')
      .addColumn('source_line', 'integer'),
  );
  await createTableWithLayout(db, 'staging_songs', { distribution: { style: 'even' }, staging: true }, (t) =>
    t
      .addColumn('num_songs', 'integer')
      .addColumn('artist_id', 'varchar(32)', (c) => c.notNull())
      .addColumn('artist_latitude', 'double precision')
      .addColumn('artist_longitude', 'double precision')
      .addColumn('artist_location', 'varchar(512)')
      .addColumn('artist_name', 'varchar(512)')
      .addColumn('song_id', 'varchar(32)', (c) => c.notNull())
      .addColumn('title', 'varchar(512)')
      .addColumn('duration', 'double precision')
      .addColumn('year', 'integer')
      .addColumn('source_file', 'varchar(1024)')
      .addColumn('source_line', 'integer'),
  );
}

/** Drops the staging tables. */
export async function down(db: Kysely<any>): Promise<void> {
  await dropTable(db, 'staging_songs');
  await dropTable(db, 'staging_events');
}
