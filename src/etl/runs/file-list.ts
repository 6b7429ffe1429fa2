import type { Kysely, Transaction } from 'kysely';
import type { Warehouse } from '../../db/connection.js';
import { insertRows } from '../../db/insert-rows.js';
import type { Database } from '../../types/database.js';
import type { SourceSpec } from '../../types/raw.js';
import { type DataFile, isSmall, walkDataFiles } from '../read/files.js';
import type { FileStats } from '../stage/postgres.js';
import { walkOffThread } from '../read/walk-thread.js';
import { filesToLoad } from './manifest.js';

type Source = SourceSpec['name'];

/** What finding a source's files gave: how many were found and queued, and the bytes to read. */
export interface QueuedFiles {
  found: number;
  queued: number;
  bytes: number;
  /** The bytes of the queued files too large to read in one go (those parse workers take). */
  largeBytes: number;
}

/**
 * Removes a finished run's rows from the work tables (in the transaction that publishes or fails
 * it), or, without a run, every run's: those of runs killed before they cleaned up (the caller holds the ETL lock).
 */
export async function dropFileList(db: Kysely<Database>, runId?: string): Promise<void> {
  for (const table of ['etl_file_stats', 'etl_file_queue'] as const) {
    const drop = db.deleteFrom(table);
    await (runId === undefined ? drop : drop.where('run_id', '=', runId)).execute();
  }
}

/**
 * Walks a source directory and queues, in path order, the files to load: all of them with
 * `everything`, else the new and changed ones (manifest.ts). A batch of files is in memory at a
 * time; the list itself goes to etl_file_queue. `offThread` walks on a worker thread (walk-thread.ts).
 */
export async function queueFiles(
  wh: Warehouse,
  runId: string,
  source: Source,
  dir: string,
  setting: string,
  everything: boolean,
  { offThread = false }: { offThread?: boolean } = {},
): Promise<QueuedFiles> {
  const result: QueuedFiles = { found: 0, queued: 0, bytes: 0, largeBytes: 0 };
  const queuePage = async (found: DataFile[]) => {
    result.found += found.length;
    const load = everything ? found : await filesToLoad(wh.db, source, found);
    for (const f of load) {
      result.bytes += f.size;
      if (!isSmall(f)) result.largeBytes += f.size;
    }
    await insertRows(
      wh,
      'etl_file_queue',
      load.map((f) => ({ run_id: runId, source, seq: result.queued++, path: f.relPath, file: f.path, size: f.size, mtime_ms: f.mtimeMs, hash: f.hash ?? null })),
    );
  };
  // A page is compared and queued while the walk finds the next one (on this thread, the walk's
  // calls and the database's work on the page before overlap); two pages at most are in memory.
  let previous = Promise.resolve();
  try {
    for await (const found of (offThread ? walkOffThread : walkDataFiles)(dir, setting, PAGE)) {
      await previous;
      previous = queuePage(found);
      previous.catch(() => {}); // awaited with the next page, or below
    }
  } catch (error) {
    await previous.catch(() => {}); // the walk's error is the one to report, once the page in hand is done
    throw error;
  }
  await previous;
  return result;
}

/** Files in memory at a time: a page of the walk, of the queue, and of the counts being written. */
const PAGE = 2000;

/** A queued file as staging reads it, with its place in the queue. */
export type QueuedFile = DataFile & { seq: number };

/** The queued files of a source in queue order, a page at a time. */
export async function* queuedFiles(db: Kysely<Database>, runId: string, source: Source, pageSize = PAGE): AsyncGenerator<QueuedFile[]> {
  let after = -1;
  for (;;) {
    const rows = await db
      .selectFrom('etl_file_queue')
      .select(['seq', 'path', 'file', 'size', 'mtime_ms', 'hash'])
      .where('run_id', '=', runId)
      .where('source', '=', source)
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(pageSize)
      .execute();
    if (!rows.length) return;
    after = rows[rows.length - 1]!.seq;
    yield rows.map((r) => ({ seq: r.seq, path: r.file, relPath: r.path, size: Number(r.size), mtimeMs: Number(r.mtime_ms), hash: r.hash ?? undefined }));
  }
}

/**
 * Writes staging's per-file counts to etl_file_stats a batch at a time, outside the staging
 * transaction (its own autocommitted inserts): they survive a failed staging, whose run record
 * reports them. `flush()` waits for everything added.
 */
export class FileStatsWriter {
  private pending: FileStats[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly wh: Warehouse,
    private readonly runId: string,
    private readonly batchSize = PAGE,
  ) {}

  /** Adds one file's counts; writes a batch when one is full. */
  add(stats: FileStats): void {
    this.pending.push(stats);
    if (this.pending.length >= this.batchSize) this.write();
  }

  /** Writes what is pending and waits for every write. */
  async flush(): Promise<void> {
    this.write();
    await this.writing;
  }

  private write() {
    const rows = this.pending.map((s) => ({
      run_id: this.runId,
      source: s.source,
      seq: (s.file as QueuedFile).seq,
      hash: s.file.hash ?? '',
      records_read: s.read,
      staged: s.staged,
      rejected: s.rejected,
    }));
    this.pending = [];
    if (!rows.length) return;
    this.writing = this.writing.then(() => insertRows(this.wh, 'etl_file_stats', rows));
  }
}

/** The run's files with what staging made of each, joined: what the run's records are written from. */
export function stagedFiles(db: Kysely<Database> | Transaction<Database>, runId: string) {
  return db
    .selectFrom('etl_file_queue as q')
    .innerJoin('etl_file_stats as s', (join) => join.onRef('s.run_id', '=', 'q.run_id').onRef('s.source', '=', 'q.source').onRef('s.seq', '=', 'q.seq'))
    .where('q.run_id', '=', runId);
}
