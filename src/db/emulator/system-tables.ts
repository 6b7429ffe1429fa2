import pg from 'pg';

/** The schema that holds the emulation's own system tables; never part of the warehouse. */
export const EMULATOR_SCHEMA = 'redshift_emulator';

/** Which Redshift is emulated: Serverless has no STL views (https://docs.aws.amazon.com/redshift/latest/dg/c_intro_system_views.html). */
export type RedshiftFlavour = 'serverless' | 'provisioned';

/**
 * Creates the emulated system tables once per database, under an advisory lock (the emulation's own
 * bookkeeping may use PostgreSQL features; only the statements it emulates are held to Redshift's):
 * - SYS_LOAD_ERROR_DETAIL (https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html),
 * - STL_LOAD_ERRORS (https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html), read only
 *   when a provisioned cluster is emulated,
 * - table layouts, shown as SVV_TABLE_INFO's "table", diststyle and sortkey1
 *   (https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html).
 * The CHAR columns pad as Redshift's do, which is why readers trim() them.
 */
export async function createSystemTables(client: pg.ClientBase): Promise<void> {
  const s = EMULATOR_SCHEMA;
  // Set up already (the last step below is done): a login that may not create them need not try.
  const { rows } = await client.query(`select to_regprocedure('${s}.fail(text)') is not null and has_schema_privilege('public', 'public', 'create') as done`);
  if (rows[0]?.done) return;
  await client.query('select pg_advisory_lock(724177)');
  try {
    await client.query(`create schema if not exists ${s}`);
    await client.query(`create sequence if not exists ${s}.query_ids start 1000`);
    await client.query(`create table if not exists ${s}.sys_load_error_detail (
      user_id integer, query_id bigint, transaction_id bigint, session_id integer, database_name char(64), table_id integer,
      start_time timestamp, file_name char(256), line_number bigint, column_name char(127), column_type char(10),
      column_length char(10), position integer, error_code integer, error_message char(512))`);
    await client.query(`create table if not exists ${s}.stl_load_errors (
      userid integer, slice integer, tbl integer, starttime timestamp, session integer, query integer, filename char(256),
      line_number bigint, colname char(127), type char(10), col_length char(10), position integer, raw_line char(1024),
      raw_field_value char(1024), err_code integer, err_reason char(100), is_partial integer, start_offset bigint)`);
    await client.query(`create table if not exists ${s}.table_layout (
      table_name text primary key, diststyle text not null default 'AUTO', distkey text, sortkey text[])`);
    await client.query(`create or replace view ${s}.svv_table_info as
      select table_name as "table",
             case when diststyle = 'KEY' then 'KEY(' || distkey || ')' else diststyle end as diststyle,
             sortkey[1] as sortkey1
      from ${s}.table_layout l where to_regclass(quote_ident(l.table_name)) is not null`);
    // COPY's failure must abort the caller's transaction as Redshift's does: raising from SQL does that.
    await client.query(`create or replace function ${s}.fail(message text) returns void language plpgsql as
      $$ begin raise exception using message = message, errcode = 'XX000'; end $$`);
    // Every login uses the emulation's schema (its views and functions); the load-error tables stay
    // the loaders' (grantEmulatorTables), as Redshift shows a regular user only its own loads' rows.
    await client.query(`grant usage on schema ${s} to public`);
    await client.query(`grant select on ${s}.table_layout, ${s}.svv_table_info to public`);
    // "By default, all users have CREATE and USAGE privileges on the PUBLIC schema of a database"
    // (https://docs.aws.amazon.com/redshift/latest/dg/r_Schemas_and_tables.html); PostgreSQL 15 took CREATE away.
    await client.query('grant create on schema public to public');
  } finally {
    await client.query('select pg_advisory_unlock(724177)');
  }
}

/**
 * What an IAM-minted login needs of the emulation's own tables: its loads' rejects (the SYS_/STL_
 * pages say the views are visible to all users and show a regular user its own rows; the emulation
 * grants the loaders, not PUBLIC, so that readers never see rejected records' raw text), and its
 * DDL records its table's layout in its own transaction.
 */
export async function grantEmulatorTables(client: pg.ClientBase | pg.Pool, role: string): Promise<void> {
  const s = EMULATOR_SCHEMA;
  const r = pg.escapeIdentifier(role);
  await client.query(`grant select on all tables in schema ${s} to ${r}`);
  await client.query(`grant insert, update on ${s}.table_layout to ${r}`);
}
