import { type Kysely, sql } from 'kysely';
import { targetOf } from '../src/db/target.js';

// A Redshift distribution key places rows for collocated joins; PostgreSQL has no such thing, and
// its hash joins on songplays.song_id need no index. The index that 02 used to build for it cost
// 1.4 s of a 3.4 s MERGE of 775k plays (random inserts into a b-tree of few distinct keys), so
// src/db/ddl.ts no longer makes one and this drops it from existing warehouses. Redshift: nothing.

/** Drops the index on the fact table's distribution key (PostgreSQL). */
export async function up(db: Kysely<any>): Promise<void> {
  if (targetOf(db) === 'postgres') await db.schema.dropIndex('songplays_song_id_idx').ifExists().execute();
}

/** Restores it. */
export async function down(db: Kysely<any>): Promise<void> {
  if (targetOf(db) === 'postgres') await sql`create index if not exists songplays_song_id_idx on songplays (song_id)`.execute(db);
}
