import { DummyDriver, Kysely, type Migration, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { Warehouse } from '../db/connection.js';
import { migrator } from '../db/migrate.js';
import { UsageError } from './options.js';

/** What a migration's `down` drops: whole tables, and columns of tables it keeps. */
export interface Dropped {
  tables: string[];
  columns: { table: string; column: string }[];
}

/**
 * What a migration's `down` drops, found by running it against a connection that only records
 * the SQL it would send (so nothing is guessed from names, and nothing is touched).
 */
export async function droppedBy(migration: Migration): Promise<Dropped> {
  const statements: string[] = [];
  const recorder = new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => void statements.push(event.query.sql),
  });
  await migration.down?.(recorder);
  return {
    tables: statements.flatMap((s) => [...s.matchAll(/drop table (?:if exists )?"?([\w.]+)"?/gi)].map((m) => m[1]!)),
    columns: statements.flatMap((s) => [...s.matchAll(/alter table "?([\w.]+)"? drop column (?:if exists )?"?(\w+)"?/gi)].map((m) => ({ table: m[1]!, column: m[2]! }))),
  };
}

/**
 * Before `migrate down`: if the most recent migration's `down` would drop tables that hold rows, or
 * columns that hold values, go on only with `yes` or a "yes" typed at a terminal.
 */
export async function confirmDown(wh: Warehouse, yes: boolean): Promise<void> {
  const last = (await migrator(wh.db).getMigrations()).filter((m) => m.executedAt).at(-1);
  if (!last || yes) return;
  const existing = new Map((await wh.db.introspection.getTables()).map((t) => [t.name, new Set(t.columns.map((c) => c.name))]));
  const holds = async (table: string, column?: string) => {
    const rows = sql`select 1 from ${sql.table(table)}${column ? sql` where ${sql.ref(column)} is not null` : sql``}`;
    return !!(await sql<{ any: boolean }>`select exists (${rows}) as any`.execute(wh.db)).rows[0]?.any;
  };
  const dropped = await droppedBy(last.migration);
  const tables: string[] = [];
  for (const table of dropped.tables) if (existing.has(table) && (await holds(table))) tables.push(table);
  const columns: string[] = [];
  for (const { table, column } of dropped.columns) if (existing.get(table)?.has(column) && (await holds(table, column))) columns.push(`${table}.${column}`);
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
