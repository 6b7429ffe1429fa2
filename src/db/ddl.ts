import { type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely, sql } from 'kysely';
import { targetOf } from './target.js';

/** How Redshift spreads a table over its slices. */
export type Distribution = { style: 'key'; column: string } | { style: 'all' } | { style: 'even' } | { style: 'auto' };

/**
 * A table's physical layout, declared once per table in its migration. Redshift takes it as
 * DISTSTYLE/DISTKEY/SORTKEY; PostgreSQL has no such options: the sort key becomes an index (range
 * scans on it), the distribution key nothing (it places rows for joins, which hash joins do here).
 */
export interface TableLayout {
  distribution: Distribution;
  sortKey?: readonly string[];
  primaryKey?: readonly string[];
  /** A natural key; enforced by PostgreSQL, informational on Redshift (which still plans with it). */
  unique?: readonly string[];
  /** Staging data is reloaded every run: PostgreSQL may keep it UNLOGGED (no WAL, faster COPY). */
  staging?: boolean;
}

type Columns = (builder: CreateTableBuilder<string, never>) => CreateTableBuilder<string, any>;

/** Creates `table` with `columns`, applying `layout` in the target's own terms. */
export async function createTableWithLayout(
  db: Kysely<any>,
  table: string,
  layout: TableLayout,
  columns: Columns,
): Promise<void> {
  const redshift = targetOf(db) === 'redshift';
  let builder = columns(db.schema.createTable(table));
  if (layout.primaryKey) builder = builder.addPrimaryKeyConstraint(`${table}_pkey`, [...layout.primaryKey] as never);
  if (layout.unique) builder = builder.addUniqueConstraint(`${table}_natural_key`, [...layout.unique] as never);
  if (redshift) {
    builder = builder.modifyEnd(redshiftLayout(layout));
  } else if (layout.staging) {
    builder = builder.modifyFront(sql`unlogged`);
  }
  await builder.execute();
  if (redshift) return;
  const index = sortIndex(layout);
  if (index) await db.schema.createIndex(`${table}_${index.join('_')}_idx`).on(table).columns([...index]).execute();
}

/** Drops `table`; its indexes go with it. */
export async function dropTable(db: Kysely<any>, table: string): Promise<void> {
  await db.schema.dropTable(table).ifExists().execute();
}

/** An auto-numbered surrogate key: IDENTITY(0,1) on Redshift, an identity column on PostgreSQL. */
export function identity(db: Kysely<any>): (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  // https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html (IDENTITY(seed, step))
  return targetOf(db) === 'redshift'
    ? (col) => col.modifyFront(sql`identity(0, 1)`).notNull()
    : (col) => col.generatedByDefaultAsIdentity().notNull();
}

function redshiftLayout(layout: TableLayout) {
  // https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-best-dist-key.html
  // https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-sort-key.html
  const d = layout.distribution;
  const dist = d.style === 'key' ? sql`diststyle key distkey(${sql.ref(d.column)})` : sql.raw(`diststyle ${d.style}`);
  const sort = layout.sortKey?.length ? sql` compound sortkey(${sql.join(layout.sortKey.map((c) => sql.ref(c)))})` : sql``;
  return sql`${dist}${sort}`;
}

/** The sort key as a PostgreSQL index, unless a key constraint's index already leads with it. */
function sortIndex(layout: TableLayout): readonly string[] | undefined {
  const sort = layout.sortKey;
  if (!sort?.length) return undefined;
  const covering = [layout.primaryKey, layout.unique].filter((k): k is readonly string[] => !!k);
  return covering.some((key) => sort.every((c, i) => key[i] === c)) ? undefined : sort;
}
