import type { Kysely } from 'kysely';
import { createTableWithLayout, dropTable, identity } from '../src/db/ddl.js';

// Layouts follow Redshift's best practices for distribution and sort keys:
// https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-best-dist-key.html
// https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-sort-key.html
// On PostgreSQL the same declarations become indexes (see src/db/ddl.ts).

/** Creates the fact and dimension tables. */
export async function up(db: Kysely<any>): Promise<void> {
  // songs is the largest dimension (millions of rows in the full Million Song Dataset):
  // distribute it and the fact table on song_id so that their join is collocated.
  await createTableWithLayout(
    db,
    'songs',
    { distribution: { style: 'key', column: 'song_id' }, sortKey: ['song_id'], primaryKey: ['song_id'] },
    (t) =>
      t
        .addColumn('song_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('title', 'varchar(512)')
        .addColumn('artist_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('artist_name', 'varchar(512)')
        .addColumn('year', 'integer')
        .addColumn('duration', 'double precision'),
  );
  // artists and users are small: a full copy on every node (DISTSTYLE ALL) makes every join local.
  await createTableWithLayout(
    db,
    'artists',
    { distribution: { style: 'all' }, sortKey: ['artist_id'], primaryKey: ['artist_id'] },
    (t) =>
      t
        .addColumn('artist_id', 'varchar(32)', (c) => c.notNull())
        .addColumn('name', 'varchar(512)')
        .addColumn('location', 'varchar(512)')
        .addColumn('latitude', 'double precision')
        .addColumn('longitude', 'double precision')
        .addColumn('source_song_id', 'varchar(32)', (c) => c.notNull()),
  );
  await createTableWithLayout(
    db,
    'users',
    { distribution: { style: 'all' }, sortKey: ['user_id'], primaryKey: ['user_id'] },
    (t) =>
      t
        .addColumn('user_id', 'integer', (c) => c.notNull())
        .addColumn('first_name', 'varchar(256)')
        .addColumn('last_name', 'varchar(256)')
        .addColumn('gender', 'varchar(16)')
        .addColumn('level', 'varchar(16)')
        .addColumn('last_seen_at', 'timestamp', (c) => c.notNull()),
  );
  // time is read by ranges of start_time: sorted on it so range filters skip blocks; kept on every
  // node because the fact table is distributed on song_id, not on time.
  await createTableWithLayout(
    db,
    'time',
    { distribution: { style: 'all' }, sortKey: ['start_time'], primaryKey: ['start_time'] },
    (t) =>
      t
        .addColumn('start_time', 'timestamp', (c) => c.notNull())
        .addColumn('hour', 'integer', (c) => c.notNull())
        .addColumn('day', 'integer', (c) => c.notNull())
        .addColumn('week', 'integer', (c) => c.notNull())
        .addColumn('month', 'integer', (c) => c.notNull())
        .addColumn('year', 'integer', (c) => c.notNull())
        .addColumn('weekday', 'integer', (c) => c.notNull()),
  );
  // The fact table: collocated with songs, sorted on time because analysts slice plays by period.
  await createTableWithLayout(
    db,
    'songplays',
    {
      distribution: { style: 'key', column: 'song_id' },
      sortKey: ['start_time'],
      primaryKey: ['songplay_id'],
      unique: ['start_time', 'session_id', 'item_in_session'],
    },
    (t) =>
      t
        .addColumn('songplay_id', 'bigint', identity(db))
        .addColumn('start_time', 'timestamp', (c) => c.notNull())
        .addColumn('user_id', 'integer')
        .addColumn('level', 'varchar(16)')
        .addColumn('song_id', 'varchar(32)')
        .addColumn('artist_id', 'varchar(32)')
        .addColumn('session_id', 'integer', (c) => c.notNull())
        .addColumn('item_in_session', 'integer', (c) => c.notNull())
        .addColumn('location', 'varchar(512)')
        .addColumn('user_agent', 'varchar(1024)')
        .addColumn('song_title', 'varchar(512)')
        .addColumn('artist_name', 'varchar(512)')
        .addColumn('song_length', 'double precision'),
  );
}

/** Drops the star tables. */
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['songplays', 'time', 'users', 'artists', 'songs']) await dropTable(db, table);
}
