import type { Kysely, Transaction } from 'kysely';
import { batches } from './batches.js';
import type { Database } from '../../types/database.js';
import type { StageResult } from '../stage/postgres.js';
import { stagedFiles } from './file-list.js';

const ERROR_LIMIT = 4000;
const REASON_LIMIT = 1000;

/** Records the start of a run. */
export async function startRun(db: Kysely<Database>, runId: string, options: object): Promise<void> {
  await db
    .insertInto('etl_runs')
    .values({ run_id: runId, started_at: new Date(), status: 'running', options: JSON.stringify(options) })
    .execute();
}

/** Runs still 'running' while we hold the ETL lock died mid-way (killed, crashed): say so. */
export async function abandonStaleRuns(db: Kysely<Database>): Promise<number> {
  const result = await db
    .updateTable('etl_runs')
    .set({ status: 'abandoned', finished_at: new Date() })
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The run that is loading now, as words for a "busy" message. */
export async function describeRunningRun(db: Kysely<Database>): Promise<string> {
  const run = await db
    .selectFrom('etl_runs')
    .select(['run_id', 'started_at'])
    .where('status', '=', 'running')
    .orderBy('started_at', 'desc')
    .executeTakeFirst();
  return run ? `run ${run.run_id}, started ${run.started_at.toISOString()}` : 'a run that has not recorded itself yet';
}

/** Writes a run's per-file counts (from the run's work tables) and its rejects. */
export async function recordFilesAndRejects(db: Kysely<Database>, runId: string, rejects: StageResult['rejects']) {
  await db
    .insertInto('etl_run_files')
    .columns(['run_id', 'source', 'path', 'size', 'hash', 'records_read', 'staged', 'rejected'])
    .expression(stagedFiles(db, runId).select(['q.run_id', 'q.source', 'q.path', 'q.size', 's.hash', 's.records_read', 's.staged', 's.rejected']))
    .execute();
  for (const batch of batches(rejects, 6)) {
    const rows = batch.map((r) => ({ run_id: runId, source: r.source, file: r.file, line: r.line, reason: truncateBytes(r.reason, REASON_LIMIT), raw: r.raw }));
    await db.insertInto('load_errors').values(rows).execute();
  }
}

/** Closes a run with the totals of the files it recorded; in the publishing transaction for a success. */
export async function finishRun(db: Kysely<Database> | Transaction<Database>, runId: string, status: 'succeeded' | 'failed', error?: unknown): Promise<void> {
  const totals = await db
    .selectFrom('etl_run_files')
    .where('run_id', '=', runId)
    .select((eb) => [
      eb.fn.countAll<number>().as('files'),
      eb.fn.coalesce(eb.fn.sum<number>('records_read'), eb.lit(0)).as('read'),
      eb.fn.coalesce(eb.fn.sum<number>('staged'), eb.lit(0)).as('staged'),
      eb.fn.coalesce(eb.fn.sum<number>('rejected'), eb.lit(0)).as('rejected'),
    ])
    .executeTakeFirst();
  await db
    .updateTable('etl_runs')
    .set({
      status,
      finished_at: new Date(),
      // (An aggregate always returns a row; `sparkify plan`'s recording warehouse returns none.)
      files: Number(totals?.files ?? 0),
      records_read: Number(totals?.read ?? 0),
      staged: Number(totals?.staged ?? 0),
      rejected: Number(totals?.rejected ?? 0),
      error: error === undefined ? null : truncateBytes(error instanceof Error ? error.message : String(error), ERROR_LIMIT),
    })
    .where('run_id', '=', runId)
    .execute();
}

/** The most recent runs, newest first. */
export async function listRuns(db: Kysely<Database>, limit = 20) {
  return db
    .selectFrom('etl_runs')
    .select(['run_id', 'started_at', 'finished_at', 'status', 'files', 'records_read', 'staged', 'rejected', 'error'])
    .orderBy('started_at', 'desc')
    .limit(limit)
    .execute();
}

/**
 * Text cut to at most `maxBytes` UTF-8 bytes, never inside a character: our VARCHAR sizes are bytes,
 * as Redshift counts them (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html).
 */
export function truncateBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back to the start of a character
  return bytes.subarray(0, end).toString('utf8');
}
