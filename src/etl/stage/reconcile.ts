import type { Kysely } from 'kysely';
import type { Database } from '../../types/database.js';
import type { FileStats } from './postgres.js';

/** Staging does not hold what the files said it should. */
export class ReconciliationError extends Error {
  override name = 'ReconciliationError';
}

/**
 * Checks that every record read is either staged or rejected, and that the staging tables hold, file
 * by file, exactly the rows staging reported: nothing lost between the files and the database.
 */
export async function reconcileStaging(db: Kysely<Database>, files: FileStats[]): Promise<void> {
  const problems: string[] = [];
  for (const f of files) {
    if (f.read !== f.staged + f.rejected) problems.push(`${f.file.path}: read ${f.read} ≠ staged ${f.staged} + rejected ${f.rejected}`);
  }
  for (const table of ['staging_songs', 'staging_events'] as const) {
    const source = table === 'staging_songs' ? 'songs' : 'events';
    const rows = await db
      .selectFrom(table)
      .select((eb) => ['source_file', eb.fn.countAll<number>().as('n')])
      .groupBy('source_file')
      .execute();
    const inTable = new Map(rows.map((r) => [r.source_file, Number(r.n)]));
    for (const f of files.filter((s) => s.source === source)) {
      const n = inTable.get(f.file.path) ?? 0;
      if (n !== f.staged) problems.push(`${f.file.path}: staged ${f.staged} records but ${table} holds ${n}`);
      inTable.delete(f.file.path);
    }
    for (const [file, n] of inTable) problems.push(`${table} holds ${n} rows from ${file}, which this run did not stage`);
  }
  if (problems.length) throw new ReconciliationError(`Staging does not reconcile with the files read:\n  ${problems.join('\n  ')}`);
}
