import { AlterTableNode, DropColumnNode, DropTableNode, DummyDriver, Kysely, type Migration, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql, type TableNode } from 'kysely';
import type { Warehouse } from '../db/connection.js';
import { migrator } from '../db/migrate.js';
import { UsageError } from './options.js';

/** A table, with its schema when the migration names one. */
export interface TableName {
  schema?: string;
  table: string;
}

/** What a migration's `down` drops: whole tables, and columns of tables it keeps. */
export interface Dropped {
  tables: TableName[];
  columns: (TableName & { column: string })[];
}

/**
 * What a migration's `down` drops, found by running it against a connection that only records what
 * it would send (so nothing is guessed from names, and nothing is touched): Kysely's operation
 * trees for its builders (a table in any schema, several columns in one ALTER TABLE), and for raw
 * SQL (`sql` templates) the statement's text.
 */
export async function droppedBy(migration: Migration): Promise<Dropped> {
  const dropped: Dropped = { tables: [], columns: [] };
  const nameOf = ({ table }: TableNode): TableName => ({ ...(table.schema ? { schema: table.schema.name } : {}), table: table.identifier.name });
  const recorder = new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: ({ query: { query: node, sql: text } }) => {
      if (DropTableNode.is(node)) dropped.tables.push(nameOf(node.table));
      else if (AlterTableNode.is(node)) {
        for (const change of node.columnAlterations ?? []) if (DropColumnNode.is(change)) dropped.columns.push({ ...nameOf(node.table), column: change.column.column.name });
      } else {
        for (const m of text.matchAll(/drop table (?:if exists )?(?:"?(\w+)"?\.)?"?(\w+)"?/gi)) dropped.tables.push({ ...(m[1] ? { schema: m[1] } : {}), table: m[2]! });
      }
    },
  });
  await migration.down?.(recorder);
  return dropped;
}

/**
 * Before `migrate down`: if the most recent migration's `down` would drop tables that hold rows, or
 * columns that hold values, go on only with `yes` or a "yes" typed at a terminal.
 */
export async function confirmDown(wh: Warehouse, yes: boolean): Promise<void> {
  const last = (await migrator(wh.db).getMigrations()).filter((m) => m.executedAt).at(-1);
  if (!last || yes) return;
  // Tables by schema and name; a name without a schema is in the default one, public (on Redshift too).
  const key = ({ schema = 'public', table }: TableName) => `${schema}.${table}`;
  const existing = new Map((await wh.db.introspection.getTables()).map((t) => [key({ schema: t.schema, table: t.name }), new Set(t.columns.map((c) => c.name))]));
  const holds = async (t: TableName, column?: string) => {
    const rows = sql`select 1 from ${sql.table(key(t))}${column ? sql` where ${sql.ref(column)} is not null` : sql``}`;
    return !!(await sql<{ any: boolean }>`select exists (${rows}) as any`.execute(wh.db)).rows[0]?.any;
  };
  const shown = (t: TableName) => (t.schema ? key(t) : t.table);
  const dropped = await droppedBy(last.migration);
  const tables: string[] = [];
  for (const t of dropped.tables) if (existing.has(key(t)) && (await holds(t))) tables.push(shown(t));
  const columns: string[] = [];
  for (const c of dropped.columns) if (existing.get(key(c))?.has(c.column) && (await holds(c, c.column))) columns.push(`${shown(c)}.${c.column}`);
  if (!tables.length && !columns.length) return;
  const what = [tables.length ? `tables that hold data: ${tables.join(', ')}` : '', columns.length ? `columns that hold values: ${columns.join(', ')}` : ''];
  const question = `Reverting ${last.name} drops ${what.filter(Boolean).join('; and ')}.`;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`${question} Type "yes" to go on: `);
    rl.close();
    if (answer.trim().toLowerCase() === 'yes') return;
    throw new Error('Nothing was reverted.');
  }
  throw new UsageError(`${question} Run again with --yes to confirm.`);
}
