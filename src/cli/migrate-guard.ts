import { DummyDriver, Kysely, type Migration, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import type { Warehouse } from '../db/connection.js';
import { migrator } from '../db/migrate.js';
import { UsageError } from './options.js';

/**
 * The tables a migration's `down` drops, found by running it against a connection that only records
 * the SQL it would send (so nothing is guessed from names, and nothing is touched).
 */
export async function tablesDroppedBy(migration: Migration): Promise<string[]> {
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
  return statements.flatMap((s) => [...s.matchAll(/drop table (?:if exists )?"?([\w.]+)"?/gi)].map((m) => m[1]!));
}

/**
 * Before `migrate down`: if the most recent migration's `down` would drop tables that hold rows,
 * go on only with `yes` or a "yes" typed at a terminal.
 */
export async function confirmDown(wh: Warehouse, yes: boolean): Promise<void> {
  const last = (await migrator(wh.db).getMigrations()).filter((m) => m.executedAt).at(-1);
  if (!last || yes) return;
  const existing = new Set((await wh.db.introspection.getTables()).map((t) => t.name));
  const withData: string[] = [];
  for (const table of await tablesDroppedBy(last.migration)) {
    if (!existing.has(table)) continue;
    const { rows } = await sql<{ any: boolean }>`select exists (select 1 from ${sql.table(table)}) as any`.execute(wh.db);
    if (rows[0]?.any) withData.push(table);
  }
  if (!withData.length) return;
  const question = `Reverting ${last.name} drops tables that hold data: ${withData.join(', ')}.`;
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
