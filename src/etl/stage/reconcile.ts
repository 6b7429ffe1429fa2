import { type Kysely, sql } from 'kysely';
import type { Database } from '../../types/database.js';
import { stagedFiles } from '../runs/file-list.js';

/** Staging does not hold what the files said it should. */
export class ReconciliationError extends Error {
  override name = 'ReconciliationError';
}

/** Problems of each kind listed in the error, at most. */
const SHOWN = 20;

/**
 * Checks that every record read is either staged or rejected, and that the staging tables hold, file
 * by file, exactly the rows staging reported: nothing lost between the files and the database. The
 * run's per-file counts are in its work tables, so this runs in the database, whatever the number of files.
 */
export async function reconcileStaging(db: Kysely<Database>, runId: string): Promise<void> {
  // Fresh statistics on the work tables, or the planner takes 100,000 files for a handful and nested-loops the joins below (minutes).
  for (const table of ['etl_file_queue', 'etl_file_stats']) await sql`analyze ${sql.table(table)}`.execute(db);
  const problems: string[] = [];
  for (const table of ['staging_songs', 'staging_events'] as const) {
    const source = table === 'staging_songs' ? 'songs' : 'events';
    // The run's files against the rows staging holds per file, both ways, and each file's counts
    // against each other: one pass over the table and the work tables. (Counts checked in a query of
    // their own, ordered and limited, were probed file by file: 100,000 files, 0.5 s.)
    const files = stagedFiles(db, runId).where('q.source', '=', source).select(['q.file', 's.records_read', 's.staged', 's.rejected']).as('f');
    const counts = db.selectFrom(table).select((eb) => ['source_file', eb.fn.countAll<number>().as('n')]).groupBy('source_file').as('c');
    const mismatches = await db
      .selectFrom(files)
      .fullJoin(counts, 'c.source_file', 'f.file')
      .select(['f.file', 'f.records_read', 'f.staged', 'f.rejected', 'c.source_file', 'c.n'])
      .where((eb) =>
        eb.or([
          eb('f.file', 'is', null),
          eb(eb.fn.coalesce('c.n', eb.lit(0)), '<>', eb.ref('f.staged')),
          eb('f.records_read', '<>', eb(eb.ref('f.staged'), '+', eb.ref('f.rejected'))),
        ]),
      )
      .orderBy('f.file')
      .orderBy('c.source_file')
      .limit(SHOWN)
      .execute();
    for (const m of mismatches) {
      if (m.file === null) {
        problems.push(`${table} holds ${Number(m.n)} rows from ${m.source_file}, which this run did not stage`);
        continue;
      }
      if (m.records_read !== m.staged! + m.rejected!) problems.push(`${m.file}: read ${m.records_read} ≠ staged ${m.staged} + rejected ${m.rejected}`);
      if (Number(m.n ?? 0) !== m.staged) problems.push(`${m.file}: staged ${m.staged} records but ${table} holds ${Number(m.n ?? 0)}`);
    }
  }
  if (problems.length) throw new ReconciliationError(`Staging does not reconcile with the files read:\n  ${problems.join('\n  ')}`);
}
