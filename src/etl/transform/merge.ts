import { type Kysely, type RawBuilder, type SelectQueryBuilder, sql, type Transaction } from 'kysely';
import { targetOf } from '../../db/target.js';
import type { Database, StarTable } from '../../types/database.js';

type Column<T extends StarTable> = keyof Database[T] & string;

/** A star table's load rule: where its rows come from and which rows win. */
export interface UpsertRule<T extends StarTable> {
  target: T;
  /** The natural key: the source has at most one row per key. */
  key: readonly Column<T>[];
  /** Every column the source provides, key included. */
  columns: readonly Column<T>[];
  /** The deduplicated source rows, with the target's column names. */
  source: (db: Kysely<Database>) => SelectQueryBuilder<any, any, any>;
  /**
   * The table's Redshift distribution key (as its migrations declare it): the MERGE source gets the
   * same, so the MERGE's join is collocated (https://docs.aws.amazon.com/redshift/latest/dg/merge-create-staging-table.html).
   * Undefined for DISTSTYLE ALL tables, which every slice holds whole.
   */
  distKey?: Column<T>;
  /**
   * A source row replaces an existing row only when it wins on these columns, compared in order
   * (e.g. a later (last_seen_at, session, item)), so loading older data after newer data never
   * overwrites newer state, whatever order the files come in. NULL counts as the highest value,
   * as it sorts first in the rules' descending windows.
   */
  precedence?: {
    columns: readonly Column<T>[];
    wins: 'higher' | 'lower';
    /** On a tie, the table's row stays ('keep', the default) or the later run's row replaces it ('replace'). */
    ties?: 'keep' | 'replace';
  };
}

/**
 * Whether the table's row wins over (or, keeping ties, ties with) the source row on `columns` in order:
 * t1 > s1 or (t1 = s1 and (t2 > s2 or (… tn >= sn))), written out because Redshift has no row
 * constructors (https://docs.aws.amazon.com/redshift/latest/dg/c_unsupported-postgresql-features.html).
 */
// Stryker disable next-line StringLiteral: equivalent — every rule with a precedence (users, artists) names its ties, so the default is never used.
function holdsItsPlace(target: string, src: string, columns: readonly string[], wins: 'higher' | 'lower', ties: 'keep' | 'replace' = 'keep') {
  const [beats, tieHolds] = wins === 'higher' ? (['>', '>='] as const) : (['<', '<='] as const);
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — every rule with a precedence replaces on a tie (users, artists), so "never keep" and 'replace' are the same.
  const holds = ties === 'keep' ? tieHolds : beats;
  const value = (table: string, c: string) => (columns.indexOf(c) === 0 ? sql.ref(`${table}.${c}`) : sql`coalesce(${sql.ref(`${table}.${c}`)}, ${sql.lit(2147483647)})`);
  const compare = (i: number): RawBuilder<boolean> => {
    const [t, s] = [value(target, columns[i]!), value(src, columns[i]!)];
    if (i === columns.length - 1) return sql<boolean>`${t} ${sql.raw(holds)} ${s}`;
    return sql<boolean>`(${t} ${sql.raw(beats)} ${s} or (${t} = ${s} and ${compare(i + 1)}))`;
  };
  return compare(0);
}

/** What an upsert did to its table: rows added, and existing rows whose values changed. */
export interface UpsertCounts {
  inserted: number;
  updated: number;
}

/**
 * Upserts a rule's source into its table: the source goes to a temporary table, rows that lose on
 * precedence or would change nothing are dropped from it, and one MERGE applies the rest (on
 * PostgreSQL an INSERT, when none of them is in the table yet). A source whose keys all lie beyond
 * the table's goes straight to that MERGE or INSERT. Redshift's MERGE takes only a
 * table as its source and one unconditional WHEN MATCHED / WHEN NOT MATCHED pair, so the same
 * MERGE runs on both targets
 * (https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html).
 */
export async function upsert<T extends StarTable>(trx: Transaction<Database>, rule: UpsertRule<T>): Promise<UpsertCounts> {
  // Rule columns come from our typed schema; the dynamic names need an untyped handle.
  const db = trx as unknown as Kysely<any>;
  const target = rule.target as string;
  const src = `${target}_merge_source`;
  const on = (a: string, b: string) => rule.key.map((k) => sql`${sql.ref(`${a}.${k}`)} = ${sql.ref(`${b}.${k}`)}`);

  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — the target only picks speed-ups (source order, DISTKEY, ANALYZE, index rebuilds, an INSERT when nothing matches); the rows are the same either way.
  const redshift = targetOf(trx) === 'redshift';
  // On PostgreSQL, source rows in key order make b-tree inserts append at the right edge of the
  // index instead of all over it (775k time rows: 3.8 s → 2.7 s). Redshift has no indexes.
  const source = redshift ? rule.source(trx) : rule.key.reduce((q, k) => q.orderBy(k), rule.source(trx));
  // Redshift has no indexes to spare and its MERGE source needs the distribution key: it always merges.
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent — the bulk path is a speed-up: it and the MERGE give the same rows (test/bulk-load.test.ts compares them), whichever target takes which.
  if (!redshift && (await isEmpty(db, target))) return bulkLoad(db, rule, source);

  await db.schema.dropTable(src).ifExists().execute();
  let create = db.schema.createTable(src).temporary();
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — the distribution of a temporary table changes where rows live, not which.
  if (redshift && rule.distKey) create = create.modifyEnd(sql`diststyle key distkey(${sql.ref(rule.distKey)})`);
  await create.as(source).execute();
  const extent = await sourceExtent(db, src, target, rule.key[0]!);
  // Stryker disable next-line ConditionalExpression,LogicalOperator,BlockStatement: equivalent — the shortcut is a speed-up: without it the general path writes the same rows and counts them alike (the directive also covers → true, which the tests kill).
  if (extent && (extent.total === 0 || extent.beyond)) {
    // Nothing to load, or nothing the table could match (an incremental day's plays and times come
    // after every one the table holds): no statistics, key join or count is needed, only the insert.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — inserting an empty source inserts nothing.
    if (extent.total > 0) await insertAll(db, rule, src, redshift);
    await db.schema.dropTable(src).execute();
    await analyzeIfChanged(db, target, extent.total, redshift);
    return { inserted: extent.total, updated: 0 };
  }
  // PostgreSQL needs fresh statistics, or the planner guesses the temporary table's size and may
  // nest-loop the joins below. Those joins are on the key, so only its columns are sampled: the
  // others' statistics took 4/5 of the time (25k songplays: 125 → 27 ms). Redshift analyses a
  // table made by CREATE TABLE AS itself (https://docs.aws.amazon.com/redshift/latest/dg/r_ANALYZE.html).
  // Stryker disable next-line all: equivalent — statistics change plans, not results.
  if (!redshift) await sql`analyze ${sql.table(src)} (${sql.join(rule.key.map((k) => sql.ref(k)))})`.execute(db);
  // Stryker disable next-line all: equivalent — join methods change plans, not results.
  const probing = !redshift && (await probeKeys(db, src, target));

  if (rule.precedence) {
    // (A disable next-line inside the chain below was not applied; a disable … restore pair is.)
    // Stryker disable StringLiteral: equivalent — only single-key rules (users, artists) have a precedence, so there is nothing to join with "and".
    await db
      .deleteFrom(src)
      .using(target)
      .where(sql<boolean>`${sql.join(on(target, src), sql` and `)}`)
      .where(holdsItsPlace(target, src, rule.precedence.columns, rule.precedence.wins, rule.precedence.ties))
      .execute();
  }

  // Stryker restore StringLiteral
  // Rows identical to what the table holds are no change: dropping them makes a re-run write nothing.
  const nonKey = nonKeyOf(rule);
  const same = nonKey.map((c) => {
    const [t, s] = [sql.ref(`${target}.${c}`), sql.ref(`${src}.${c}`)];
    return sql`(${t} = ${s} or (${t} is null and ${s} is null))`;
  });
  const unchanged = sql<boolean>`${sql.join([...on(target, src), ...same], sql` and `)}`;
  // Counted before the MERGE, because Redshift documents no row count for MERGE: rows whose key the
  // table has are updates unless unchanged, the rest inserts. One join counts all three, and the
  // DELETE of unchanged rows runs only when there are some (a day's users, mostly new or changed:
  // a join of the source with the table saved).
  const counts = await db
    .selectFrom(src)
    .leftJoin(target, onKey(target, src, rule.key))
    .select((eb) => [
      eb.fn.countAll<number>().as('total'),
      eb.fn.count<number>(`${target}.${rule.key[0]}`).as('matched'),
      eb.fn.count<number>(eb.case().when(unchanged).then(sql.lit(1)).end()).as('unchanged'),
    ])
    .executeTakeFirst();
  // Stryker disable next-line OptionalChaining: equivalent — an aggregate without GROUP BY always returns one row.
  const [total, matched, unchangedRows] = [Number(counts?.total ?? 0), Number(counts?.matched ?? 0), Number(counts?.unchanged ?? 0)];
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — deleting when there are none deletes nothing, and not deleting them has the MERGE write the same values again: the rows are the same.
  if (unchangedRows > 0) await db.deleteFrom(src).using(target).where(unchanged).execute();
  const updated = matched - unchangedRows;
  const inserted = total - matched;

  // Stryker disable next-line ConditionalExpression: equivalent — the condition → false takes the MERGE, which writes the same rows (the directive also covers → true, which the tests kill).
  if (updated === 0) await insertAll(db, rule, src, redshift);
  else await merge(db, rule, src);

  await db.schema.dropTable(src).execute();
  // Stryker disable next-line all: equivalent — join methods change plans, not results.
  if (probing) await joinMethods(db, 'default');
  // Stryker disable next-line ArithmeticOperator: equivalent — the number only decides whether to ANALYZE.
  await analyzeIfChanged(db, target, inserted + updated, redshift);
  return { inserted, updated };
}

/**
 * The source's row count, and whether its keys all lie beyond the table's (the lowest first key
 * column above the table's highest, which an index on the key finds without a scan): then no
 * source row can match one of the table's. Written with CASE, as Redshift takes no boolean
 * comparison as a value in every place (https://docs.aws.amazon.com/redshift/latest/dg/r_CASE_function.html).
 */
// Stryker disable next-line BlockStatement: equivalent — no extent means the general path, which gives the same rows and counts.
async function sourceExtent(db: Kysely<any>, src: string, target: string, firstKey: string): Promise<{ total: number; beyond: boolean } | undefined> {
  // (A disable next-line inside a chain is not applied; a disable … restore pair is.)
  // Stryker disable ArrayDeclaration: equivalent — a query without columns gives no extent, and the general path the same rows and counts.
  const row = await db
    .selectFrom(src)
    .select((eb) => [
      eb.fn.countAll<number>().as('total'),
      eb
        .case()
        .when(eb.fn.min(`${src}.${firstKey}`), '>', eb.selectFrom(target).select(eb.fn.max(`${target}.${firstKey}`).as('hi')))
        .then(sql.lit(1))
        .else(sql.lit(0))
        .end()
        .as('beyond'),
    ])
    .executeTakeFirst();
  // Stryker restore ArrayDeclaration
  // An aggregate without GROUP BY returns one row, but none under `sparkify plan` (recording.ts
  // answers every query with none): unknown, so the plan shows the general path.
  // Stryker disable next-line ConditionalExpression,LogicalOperator,ObjectLiteral: equivalent — an extent that says nothing (no row, no fields, never beyond) takes the general path, which gives the same rows and counts (the directive also covers `beyond: true`, which the tests kill).
  return row && { total: Number(row.total), beyond: Number(row.beyond) === 1 };
}

/**
 * Applies a source none of whose rows would update one of the table's: on PostgreSQL an INSERT, which
 * writes the same rows without the MERGE's join with the table (one more day of the 1M-event
 * benchmark, interleaved runs: songplays 410 → 175–325 ms, time 250 → 90–170 ms). Redshift keeps
 * its MERGE, which its plan shows and the emulation runs on every load.
 */
async function insertAll<T extends StarTable>(db: Kysely<any>, rule: UpsertRule<T>, src: string, redshift: boolean): Promise<void> {
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent — the MERGE writes the same rows.
  if (redshift) return merge(db, rule, src);
  await db.insertInto(rule.target).columns([...rule.columns]).expression(db.selectFrom(src).select([...rule.columns])).execute();
}

/** The key equality of the table and the source as a join's ON, for the builders that take one. */
function onKey(target: string, src: string, key: readonly string[]) {
  return <J extends { onRef(l: string, op: '=', r: string): J }>(join: J) => key.reduce((j, k) => j.onRef(`${target}.${k}`, '=', `${src}.${k}`), join);
}

/** A rule's columns outside its key. */
// Stryker disable next-line MethodExpression: equivalent — key columns in the unchanged test and in the update set compare and set equal values.
const nonKeyOf = <T extends StarTable>(rule: UpsertRule<T>) => rule.columns.filter((c) => !rule.key.includes(c));

/** MERGEs the source into the table: matched keys take the source's values, the rest are inserted. */
async function merge<T extends StarTable>(db: Kysely<any>, rule: UpsertRule<T>, src: string): Promise<void> {
  const target = rule.target as string;
  const fromSource = (cols: readonly string[]) => Object.fromEntries(cols.map((c) => [c, sql.ref(`${src}.${c}`)]));
  await db
    .mergeInto(target)
    .using(src, onKey(target, src, rule.key))
    .whenMatched()
    .thenUpdateSet(fromSource(nonKeyOf(rule)))
    .whenNotMatched()
    .thenInsertValues(fromSource(rule.columns))
    .execute();
}

// Stryker disable all: equivalent — when to ANALYZE the table changes plans, not results.
/**
 * ANALYZEs the table when the run changed a good part of it (10%, as autovacuum's analyze threshold
 * judges): the next rules and the checks join it. A small incremental load is not worth re-sampling a large table.
 */
async function analyzeIfChanged(db: Kysely<any>, target: string, changed: number, redshift: boolean): Promise<void> {
  if (changed > 0 && changed * 10 >= (await tableRows(db, target, redshift))) await sql`analyze ${sql.table(target)}`.execute(db);
}
// Stryker restore all

// Stryker disable all: equivalent — join methods change plans, not results.
/**
 * For a source small beside its table (under a tenth of its rows, PostgreSQL's estimates), turns
 * hash and merge joins off until joinMethods(db, 'default'), so the statements that join the two
 * probe the table's key index per source row instead of reading all of it: the planner costs the
 * two about the same, but on a million-event warehouse one more day's time rows took 0.7 s to
 * hash-join and 0.15 s to probe (before such a day skipped its joins, sourceExtent). SET LOCAL: the setting ends with the transaction whatever happens.
 */
async function probeKeys(db: Kysely<any>, src: string, target: string): Promise<boolean> {
  const probe = (await tableRows(db, src, false)) * 10 < (await tableRows(db, target, false));
  if (probe) await joinMethods(db, 'off');
  return probe;
}

/** Sets hash and merge joins off, or back to the session's setting, for the rest of the transaction. */
async function joinMethods(db: Kysely<any>, value: 'off' | 'default'): Promise<void> {
  await sql`set local enable_hashjoin to ${sql.raw(value)}`.execute(db);
  await sql`set local enable_mergejoin to ${sql.raw(value)}`.execute(db);
}
// Stryker restore all

// Stryker disable all: equivalent — the row count only decides whether to ANALYZE, which changes plans, not results.
/**
 * About how many rows a table holds: PostgreSQL's estimate (pg_class.reltuples, kept by ANALYZE and
 * VACUUM; counting a million plays took 0.2 s of a 3 s incremental run), an exact count on Redshift.
 */
async function tableRows(db: Kysely<any>, table: string, redshift: boolean): Promise<number> {
  if (!redshift) {
    const { rows } = await sql<{ n: number }>`select reltuples::float8 as n from pg_class where oid = to_regclass(${table})`.execute(db);
    // -1: never analysed (PostgreSQL 14+), so the count is unknown: count.
    if (Number(rows[0]?.n ?? -1) >= 0) return Number(rows[0]!.n);
  }
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}
// Stryker restore all

/** Whether a table has no rows (a first load). */
// Stryker disable next-line BlockStatement: equivalent — "not empty" takes the MERGE path, which gives the same rows.
export async function isEmpty(db: Kysely<any>, table: string): Promise<boolean> {
  return !(await db.selectFrom(table).select(sql.lit(1).as('one')).limit(1).executeTakeFirst());
}

/**
 * PostgreSQL's bulk path for an empty table (a first load): with nothing to match, update or
 * outrank, the source is inserted as it is, without the temporary table, its statistics and the
 * MERGE, and the table's unique indexes are dropped before and built after the insert, as
 * pg_restore does: building an index once from sorted rows costs less than growing it row by row
 * (1M events: songplays 9.4 s → 6.1 s, time 4.0 s → 2.6 s). Dropping them takes the table's ACCESS
 * EXCLUSIVE lock until the run commits, so readers of the empty table wait for the first load
 * instead of seeing it empty; the rebuilt constraints check uniqueness as the MERGE's would have.
 */
async function bulkLoad<T extends StarTable>(db: Kysely<any>, rule: UpsertRule<T>, source: SelectQueryBuilder<any, any, any>): Promise<UpsertCounts> {
  const target = rule.target as string;
  await sql`lock table ${sql.table(target)} in access exclusive mode`.execute(db);
  const { referenced, minimalWal } = await bulkSettings(db, target);
  // Emptied in this transaction, the table's rows and rebuilt indexes need no WAL on a server with
  // wal_level = minimal (the embedded one): they are synced at commit instead
  // (https://www.postgresql.org/docs/current/populate.html#POPULATE-PITR). Under the lock, a table
  // found empty above is still empty. A table another table's foreign key references can be
  // neither truncated nor lose the unique index the key needs: it is loaded as it is.
  if (minimalWal && !referenced) await sql`truncate table ${sql.table(target)}`.execute(db);
  const constraints = referenced ? [] : await uniqueConstraints(db, target);
  for (const c of constraints) await sql`alter table ${sql.table(target)} drop constraint ${sql.ref(c.name)}`.execute(db);
  const result = await db.insertInto(target).columns([...rule.columns]).expression(source).executeTakeFirst();
  for (const c of constraints) await sql`alter table ${sql.table(target)} add constraint ${sql.ref(c.name)} ${sql.raw(c.definition)}`.execute(db);
  // Stryker disable next-line all: equivalent — statistics change plans, not results.
  await sql`analyze ${sql.table(target)}`.execute(db);
  return { inserted: Number(result.numInsertedOrUpdatedRows ?? 0), updated: 0 };
}

/** Whether the server writes minimal WAL, and whether a foreign key references `table`. */
async function bulkSettings(db: Kysely<any>, table: string): Promise<{ minimalWal: boolean; referenced: boolean }> {
  const { rows } = await sql<{ minimalWal: boolean; referenced: boolean }>`
    select current_setting('wal_level') = 'minimal' as "minimalWal",
      exists (select 1 from pg_constraint where confrelid = to_regclass(${table}) and contype = 'f') as referenced`.execute(db);
  return rows[0]!;
}

/** A table's primary key and unique constraints, as PostgreSQL would recreate them. */
async function uniqueConstraints(db: Kysely<any>, table: string): Promise<{ name: string; definition: string }[]> {
  // Stryker disable next-line StringLiteral: equivalent — no constraints found means none set aside: the insert maintains the indexes, slower, same rows and constraints.
  const { rows } = await sql<{ name: string; definition: string }>`
    select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
    where conrelid = to_regclass(${table}) and contype in ('p', 'u') order by contype, conname`.execute(db);
  return rows;
}
