import { type Kysely, sql } from 'kysely';
import { ensureReaderGroup, grantToReaders, READER_GROUP } from '../src/db/access.js';

// Analysts read the star schema through the group sparkify_reader (sparkify grant-reader <user>):
// SELECT on the five star tables and nothing else, so staging and the bookkeeping's raw rejected
// records stay out of their reach. The same statements on PostgreSQL and Redshift.

// The star tables as of this migration (a later one that adds a table grants it there).
const STAR_TABLES = ['songplays', 'users', 'songs', 'artists', 'time'];

/** Creates the reader group (unless it exists) and lets it read the star tables. */
export async function up(db: Kysely<any>): Promise<void> {
  await ensureReaderGroup(db);
  await grantToReaders(db, STAR_TABLES);
}

/** Revokes the group's reads; the group stays, as it is server-wide and may serve other databases. */
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of STAR_TABLES) await sql`revoke select on table ${sql.table(table)} from group ${sql.id(READER_GROUP)}`.execute(db);
}
