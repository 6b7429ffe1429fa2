import { type Kysely, sql } from 'kysely';

/** The group analysts' logins join: SELECT on the star tables and nothing else. */
export const READER_GROUP = 'sparkify_reader';

/** Access control needs a privilege the login lacks; the message says who can do it. */
export class AccessError extends Error {
  override name = 'AccessError';
}

const code = (error: unknown) => (error as { code?: string }).code;

/**
 * Creates the reader group unless it exists. Groups, with the same statements on PostgreSQL and
 * Redshift (https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_GROUP.html); they are
 * server-wide, so another database's warehouse may have created it already.
 */
export async function ensureReaderGroup(db: Kysely<any>): Promise<void> {
  const { rows } = await sql`select 1 as found from pg_group where groname = ${READER_GROUP}`.execute(db);
  if (rows.length) return;
  try {
    await sql`create group ${sql.id(READER_GROUP)}`.execute(db);
  } catch (error) {
    if (code(error) !== '42501') throw error;
    throw new AccessError(
      `creating the group ${READER_GROUP} needs a superuser (Redshift) or CREATEROLE (PostgreSQL), which this login lacks: ` +
        `have an administrator run "create group ${READER_GROUP};" once (provision does it for the warehouses it creates), then migrate again`,
    );
  }
}

/** Lets the group read these tables (run by their owner, in the migration that creates them). */
export async function grantToReaders(db: Kysely<any>, tables: readonly string[]): Promise<void> {
  for (const table of tables) await sql`grant select on table ${sql.table(table)} to group ${sql.id(READER_GROUP)}`.execute(db);
}

/** Adds a database user to the reader group: `sparkify grant-reader <user>`. */
export async function grantReader(db: Kysely<any>, user: string): Promise<void> {
  const schema = await sql`select 1 as found from pg_tables where tablename = 'songplays'`.execute(db);
  if (!schema.rows.length) throw new AccessError('there is no star schema here yet: run npm run migrate:latest (as the user that loads the warehouse) first, then grant-reader');
  const { rows } = await sql`select 1 as found from pg_user where usename = ${user}`.execute(db);
  if (!rows.length) throw new AccessError(`there is no database user ${JSON.stringify(user)}: create it first (create user … password …), then run grant-reader again`);
  await ensureReaderGroup(db);
  try {
    await sql`alter group ${sql.id(READER_GROUP)} add user ${sql.id(user)}`.execute(db);
  } catch (error) {
    if (code(error) !== '42501') throw error;
    throw new AccessError(`adding ${user} to ${READER_GROUP} needs a superuser (Redshift) or CREATEROLE (PostgreSQL): run grant-reader as the administrator`);
  }
}
