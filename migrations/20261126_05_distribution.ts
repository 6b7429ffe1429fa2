import { type Kysely, sql } from 'kysely';
import { targetOf } from '../src/db/target.js';

// Redshift layout, second version, after AWS's distribution best practices
// (https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-best-dist-key.html):
//
// - songplays was distributed on song_id, but most plays never match the catalogue (6,819 of 6,820
//   on the real sample): their NULL key put nearly every play on one slice. It is now distributed
//   on start_time: near-unique per play, so rows spread evenly, and it is the column of the fact
//   table's most frequent join (time) and the leading column of its natural key, which the ETL's
//   MERGE joins on.
// - time was DISTSTYLE ALL with about one row per play: a fact-sized copy on every node. It is now
//   distributed on start_time too, so songplays ⋈ time is collocated.
// - songs stays KEY(song_id) (unique, evenly spread; the catalogue's own MERGE is collocated);
//   users and artists stay ALL (small, joined from plays on any slice).
//
// ALTER DISTKEY / ALTER DISTSTYLE is the documented way to change an existing table
// (https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html). PostgreSQL has no
// distribution: nothing to do there.

/** Distributes songplays and time on start_time (Redshift). */
export async function up(db: Kysely<any>): Promise<void> {
  if (targetOf(db) !== 'redshift') return;
  await sql`-- https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
alter table ${sql.table('songplays')} alter distkey ${sql.ref('start_time')}`.execute(db);
  await sql`-- https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
alter table ${sql.table('time')} alter diststyle key distkey ${sql.ref('start_time')}`.execute(db);
}

/** Restores the first layout. */
export async function down(db: Kysely<any>): Promise<void> {
  if (targetOf(db) !== 'redshift') return;
  await sql`alter table ${sql.table('time')} alter diststyle all`.execute(db);
  await sql`alter table ${sql.table('songplays')} alter distkey ${sql.ref('song_id')}`.execute(db);
}
