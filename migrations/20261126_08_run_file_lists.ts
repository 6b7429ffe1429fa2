import type { Kysely } from 'kysely';
import { createTableWithLayout, dropTable } from '../src/db/ddl.js';

// The running run's file list and per-file counts live in the database, not in the ETL process, so
// its memory does not grow with the number of files (the Million Song Dataset is a million files).
// Work tables: emptied at the start of every run, like staging (UNLOGGED on PostgreSQL).

/** Creates the run's file queue (files found to load) and its per-file staging counts. */
export async function up(db: Kysely<any>): Promise<void> {
  await createTableWithLayout(db, 'etl_file_queue', { distribution: { style: 'all' }, sortKey: ['run_id', 'source', 'seq'], primaryKey: ['run_id', 'source', 'seq'], staging: true }, (t) =>
    t
      .addColumn('run_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('source', 'varchar(16)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('path', 'varchar(1024)', (c) => c.notNull())
      .addColumn('file', 'varchar(2048)', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('mtime_ms', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'varchar(64)'),
  );
  await createTableWithLayout(db, 'etl_file_stats', { distribution: { style: 'all' }, sortKey: ['run_id', 'source', 'seq'], primaryKey: ['run_id', 'source', 'seq'], staging: true }, (t) =>
    t
      .addColumn('run_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('source', 'varchar(16)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('records_read', 'integer', (c) => c.notNull())
      .addColumn('staged', 'integer', (c) => c.notNull())
      .addColumn('rejected', 'integer', (c) => c.notNull()),
  );
}

/** Drops the work tables. */
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['etl_file_stats', 'etl_file_queue']) await dropTable(db, table);
}
