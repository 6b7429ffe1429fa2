import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Warehouse } from '../db/connection.js';
import { acquireEtlLock } from '../db/lock.js';
import { STAR_TABLES, type StarTable } from '../types/database.js';
import { EVENT_SOURCE, SONG_SOURCE, type SourceSpec } from '../types/raw.js';
import { CheckFailedError, type CheckResult, failures, runChecks, WAREHOUSE_CHECKS } from './checks.js';
import { checkDirectory, type DataFile } from './read/files.js';
import { dropFileList, FileStatsWriter, type QueuedFiles, queueFiles, queuedFiles } from './runs/file-list.js';
import { markLoaded } from './runs/manifest.js';
import { reconcileStaging } from './stage/reconcile.js';
import { abandonStaleRuns, describeRunningRun, finishRun, recordFilesAndRejects, startRun } from './runs/runs.js';
import { type FileStats, RejectBudgetError, type StageResult, stageLocalFiles } from './stage/postgres.js';
import { type TransformCounts, transformStaged } from './transform/index.js';
import { stageOnRedshift } from './stage/redshift.js';
import { catalogueMatchRate } from '../queries/index.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { sql } from 'kysely';

/** Reports progress; the CLI draws bars on a terminal and plain lines elsewhere. */
export interface Progress {
  phase(name: string, totalBytes?: number): void;
  advance(bytes: number): void;
  done(): void;
}

export interface EtlOptions {
  songsDir: string;
  logsDir: string;
  /** Bad records tolerated before the run fails (default 0). */
  maxErrors?: number;
  /** Run the data-quality checks before committing (default true). */
  check?: boolean;
  /** Load every file, not only new and changed ones (default false). */
  fullRefresh?: boolean;
  /** Redshift, s3:// inputs: the objects are gzip'd. */
  gzip?: boolean;
  /** Redshift: the S3 client for uploads (tests pass a mocked one). */
  s3Client?: S3Client;
  progress?: Progress;
  /** Local files: worker threads that parse them (0: the main thread). Default: by input size and cores. */
  parseWorkers?: number;
  /** Local files on PostgreSQL: find the song files on a worker thread while the logs stage. Default: when the logs are 4 MB or more. */
  findSongsOnThread?: boolean;
}

export interface EtlSummary {
  runId: string;
  /** Files found, and of those the ones loaded (new or changed, or all with fullRefresh). */
  files: { songs: number; events: number };
  loadedFiles: { songs: number; events: number };
  staged: { songs: number; events: number };
  /** Texts repaired from mis-decoded UTF-8 (e.g. "BjÃ¶rk" → "Björk") while staging. */
  repaired: number;
  rejected: number;
  /** The bad records the budget allowed. (Per-file counts are in etl_run_files, by run_id.) */
  rejects: StageResult['rejects'];
  transform: TransformCounts;
  /** Row counts of the star tables after the run. */
  tables: Record<StarTable, number>;
  /** Plays matched to the song catalogue, of all plays after the run (rate 0–1). */
  catalogue: { plays: number; matched: number; rate: number };
  checks: CheckResult[];
  seconds: { stage: number; transform: number; total: number };
}

const isS3 = (p: string) => p.startsWith('s3://');

const silent: Progress = { phase() {}, advance() {}, done() {} };

/**
 * Runs the ETL under the warehouse's ETL lock: stage the new and changed files, then transform,
 * check, record the files as loaded and close the run, all in one transaction, so a failure or a
 * kill at any point leaves the star tables as they were and the next run starts from there.
 */
export async function runEtl(wh: Warehouse, options: EtlOptions): Promise<EtlSummary> {
  const release = await acquireEtlLock(wh, () => describeRunningRun(wh.db));
  try {
    await abandonStaleRuns(wh.db);
    await dropFileList(wh.db);
    const runId = randomUUID();
    const { progress: _, ...loggedOptions } = options;
    await startRun(wh.db, runId, loggedOptions);
    try {
      return await loadRun(wh, runId, options);
    } catch (error) {
      // The run's record survives its failure: why it failed, and the files and rejects that made it fail.
      await wh.db
        .transaction()
        .execute(async (trx) => {
          if (error instanceof RejectBudgetError) await recordFilesAndRejects(trx, runId, error.rejects);
          await finishRun(trx, runId, 'failed', error);
          await dropFileList(trx, runId);
        })
        .catch(() => {}); // the original error matters more than a failure to record it
      throw error;
    }
  } finally {
    await release();
  }
}

async function loadRun(wh: Warehouse, runId: string, options: EtlOptions): Promise<EtlSummary> {
  const progress = options.progress ?? silent;
  const t0 = performance.now();
  const s3 = { songs: isS3(options.songsDir), events: isS3(options.logsDir) };
  if ((s3.songs || s3.events) && wh.target !== 'redshift') throw new Error('s3:// inputs need the Redshift target (SPARKIFY_TARGET=redshift)');
  progress.phase('Finding new and changed files');
  // A missing directory fails the run before any file is looked at, the song directory's first, on both targets.
  if (!s3.songs) await checkDirectory(options.songsDir, SONGS_SETTING);
  if (!s3.events) await checkDirectory(options.logsDir, LOGS_SETTING);
  // The file lists go to the run's work tables (runs/file-list.ts), not into memory.
  const queue: QueueFn = (source, dir, setting, more) => queueFiles(wh, runId, source, dir, setting, !!options.fullRefresh, more);
  const maxErrors = options.maxErrors ?? 0;
  const fileStats = new FileStatsWriter(wh, runId);
  let queued: Record<SourceSpec['name'], QueuedFiles>;
  let staged: StageResult;
  try {
    if (wh.target === 'redshift') {
      const none = { found: 0, queued: 0, bytes: 0, largeBytes: 0 };
      queued = {
        songs: s3.songs ? none : await queue('songs', options.songsDir, SONGS_SETTING),
        events: s3.events ? none : await queue('events', options.logsDir, LOGS_SETTING),
      };
      progress.phase(stagingPhase(queued), queued.songs.bytes + queued.events.bytes);
      staged = await stageOnRedshift(
        wh,
        [
          { source: SONG_SOURCE, files: s3.songs ? [] : await allQueued(wh, runId, 'songs'), s3: s3.songs ? options.songsDir : undefined },
          { source: EVENT_SOURCE, files: s3.events ? [] : await allQueued(wh, runId, 'events'), s3: s3.events ? options.logsDir : undefined },
        ],
        { runId, maxErrors, gzip: options.gzip, s3Client: options.s3Client, onBytes: (n) => progress.advance(n) },
      ).catch((error) => {
        if (error instanceof RejectBudgetError) for (const f of error.files) fileStats.add(f);
        throw error;
      });
      // Redshift's stager keeps its per-file counts; they join the others in the work table.
      for (const f of staged.files) fileStats.add(f);
    } else {
      ({ queued, staged } = await findAndStageLocally(wh, runId, options, queue, progress, (f) => fileStats.add(f)));
    }
  } finally {
    progress.done();
    // Written whatever happened: a run that failed in staging reports the files it staged.
    await fileStats.flush();
  }
  // Per-file lineage exists where we COPY the rows ourselves; Redshift counts per COPY.
  if (wh.target === 'postgres') await reconcileStaging(wh.db, runId);
  const t1 = performance.now();

  const { transform, tables, checks, catalogue } = await wh.db.transaction().execute(async (trx) => {
    progress.phase('Transforming');
    const transform = await transformStaged(trx, (table) => progress.phase(`Loading ${table}`));
    const checking = options.check !== false;
    progress.phase(checking ? 'Checking' : 'Recording the run');
    // Measured once, for the catalogue check and the summary alike.
    const catalogue = await catalogueMatchRate(trx);
    let checks: CheckResult[] = [];
    if (checking) {
      // Rules PostgreSQL's constraints enforce need no second look there; Redshift gets every check.
      const enforced = wh.target === 'postgres';
      // Scoped to this run's plays: what earlier runs loaded was checked when they committed. (The
      // catalogue warning judges every play, from the rate measured above.)
      checks = await runChecks(trx, WAREHOUSE_CHECKS.filter((c) => !(enforced && c.enforcedByPostgres)), 'run', { measured: { catalogue } });
      if (failures(checks).length) throw new CheckFailedError(checks);
      progress.phase('Recording the run');
    }
    await markLoaded(trx, runId);
    await recordFilesAndRejects(trx, runId, staged.rejects);
    await finishRun(trx, runId, 'succeeded');
    await dropFileList(trx, runId);
    // The catalogue's count of plays is songplays' row count: one scan of the fact table, not two.
    const tables = await countStarTables(trx, { songplays: catalogue.plays });
    return { transform, tables, checks, catalogue };
  });
  // The run has committed: failing to empty staging must not make it a failed run (the next empties it first).
  await emptyStaging(wh).catch(() => {});
  progress.done();
  const t2 = performance.now();

  return {
    runId,
    files: { songs: queued.songs.found, events: queued.events.found },
    loadedFiles: { songs: queued.songs.queued, events: queued.events.queued },
    staged: staged.staged,
    repaired: staged.repaired,
    rejected: staged.rejects.length,
    rejects: staged.rejects,
    transform,
    tables,
    catalogue,
    checks,
    seconds: { stage: (t1 - t0) / 1000, transform: (t2 - t1) / 1000, total: (t2 - t0) / 1000 },
  };
}

/**
 * Empties the staging tables once the run has committed, so that the next run does not pay for
 * freeing this one's rows: a million staged events took 0.6 s of the next commit, an incremental
 * day's third. A failed run keeps its staged rows to look at (the next run empties them first).
 */
async function emptyStaging(wh: Warehouse): Promise<void> {
  for (const { table } of [SONG_SOURCE, EVENT_SOURCE]) await sql`truncate table ${sql.table(table)}`.execute(wh.db);
}

const SONGS_SETTING = 'Song (--songs)';
const LOGS_SETTING = 'Log (--logs)';

type QueueFn = (source: SourceSpec['name'], dir: string, setting: string, more?: Parameters<typeof queueFiles>[6]) => Promise<QueuedFiles>;

/** The staging phase's title. */
const stagingPhase = ({ songs, events }: Record<SourceSpec['name'], QueuedFiles>) =>
  `Staging ${songs.queued} song and ${events.queued} log ${songs.queued + events.queued === 1 ? 'file' : 'files'}`;

/**
 * Logs of at least this size are worth finding the song files on a worker thread beside their
 * staging; below it there is little to overlap, and the worker would only add its memory (100,000
 * song files beside 1,000 events: peak RSS 128–129 MB on this thread, 140–147 MB on a worker).
 */
const OVERLAP_BYTES = 4 << 20;

/**
 * Finds and stages local files on PostgreSQL. The logs are found first; when there are enough of
 * them (OVERLAP_BYTES), the song files are found on a worker thread while the logs already stage:
 * walking a song tree is file-system calls, staging logs is parsing here and COPY on the server, and
 * on two cores the two overlap (one more day at 1M events, on copies of one loaded warehouse:
 * finding and staging 0.86–0.90 → 0.66–0.72 s). The staging phase opens once the song files are known.
 */
async function findAndStageLocally(
  wh: Warehouse,
  runId: string,
  options: EtlOptions,
  queue: QueueFn,
  progress: Progress,
  onFile: (stats: FileStats) => void,
): Promise<{ queued: Record<SourceSpec['name'], QueuedFiles>; staged: StageResult }> {
  const pool = await wh.pool();
  const events = await queue('events', options.logsDir, LOGS_SETTING);
  const offThread = options.findSongsOnThread ?? events.bytes >= OVERLAP_BYTES;
  const songs = queue('songs', options.songsDir, SONGS_SETTING, { offThread });
  songs.catch(() => {}); // awaited below
  const songsKnown = offThread ? undefined : await songs;
  // Bytes staged before the phase opens count toward it once it does.
  let early: number | undefined = 0;
  const onBytes = (n: number) => (early === undefined ? progress.advance(n) : (early += n));
  const staging = stageLocalFiles(
    pool,
    [
      // Song files stage once they are all queued. Found on the other thread, their large files (a
      // song file is one song, a few kB) are not known in time to count toward starting parse workers.
      { source: SONG_SOURCE, pages: afterQueued(songs, () => queuedFiles(wh.db, runId, 'songs')), largeBytes: songsKnown?.largeBytes ?? 0 },
      { source: EVENT_SOURCE, pages: queuedFiles(wh.db, runId, 'events'), largeBytes: events.largeBytes },
    ],
    { maxErrors: options.maxErrors ?? 0, onBytes, parseWorkers: options.parseWorkers, onFile },
  );
  staging.catch(() => {}); // awaited below
  let songsQueued: QueuedFiles;
  try {
    songsQueued = await songs;
  } catch (error) {
    await staging.catch(() => {}); // it fails too (its song input waits on the same promise), and rolls back
    throw error;
  }
  const queued = { songs: songsQueued, events };
  progress.phase(stagingPhase(queued), songsQueued.bytes + events.bytes);
  progress.advance(early);
  early = undefined;
  return { queued, staged: await staging };
}

/** The pages of a queue once it is complete. */
async function* afterQueued<T>(queued: Promise<unknown>, pages: () => AsyncIterable<T>): AsyncGenerator<T> {
  await queued;
  yield* pages();
}

/** Every queued file of a source, in memory: Redshift's stager takes a list (it uploads local files, a small load's way; s3:// inputs have none). */
async function allQueued(wh: Warehouse, runId: string, source: SourceSpec['name']): Promise<DataFile[]> {
  const files: DataFile[] = [];
  for await (const page of queuedFiles(wh.db, runId, source)) files.push(...page);
  return files;
}

/** Row counts of every star table (those in `known` taken as given). */
export async function countStarTables(db: Warehouse['db'], known: Partial<Record<StarTable, number>> = {}): Promise<Record<StarTable, number>> {
  const counts = { ...known } as Record<StarTable, number>;
  for (const table of STAR_TABLES.filter((t) => counts[t] === undefined)) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    counts[table] = Number(row?.n ?? 0);
  }
  return counts;
}
