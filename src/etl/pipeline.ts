import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Warehouse } from '../db/connection.js';
import { acquireEtlLock } from '../db/lock.js';
import { STAR_TABLES, type StarTable } from '../types/database.js';
import { EVENT_SOURCE, SONG_SOURCE, type SourceSpec } from '../types/raw.js';
import { CheckFailedError, type CheckResult, failures, runChecks, WAREHOUSE_CHECKS } from './checks.js';
import { type DataFile, listDataFiles } from './read/files.js';
import { filesToLoad, markLoaded } from './runs/manifest.js';
import { reconcileStaging } from './stage/reconcile.js';
import { abandonStaleRuns, describeRunningRun, finishRun, recordFilesAndRejects, startRun } from './runs/runs.js';
import { type FileStats, RejectBudgetError, type StageResult, stageLocalFiles } from './stage/postgres.js';
import { type TransformCounts, transformStaged } from './transform/index.js';
import { stageOnRedshift } from './stage/redshift.js';
import { catalogueMatchRate } from '../queries/index.js';
import type { S3Client } from '@aws-sdk/client-s3';

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
  /** The bad records the budget allowed. */
  rejects: StageResult['rejects'];
  fileStats: FileStats[];
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
    const runId = randomUUID();
    const { progress: _, ...loggedOptions } = options;
    await startRun(wh.db, runId, loggedOptions);
    try {
      return await loadRun(wh, runId, options);
    } catch (error) {
      // The run's record survives its failure: why it failed, and the rejects that made it fail.
      const files = error instanceof RejectBudgetError ? error.files : [];
      await wh.db
        .transaction()
        .execute(async (trx) => {
          if (error instanceof RejectBudgetError) await recordFilesAndRejects(trx, runId, files, error.rejects);
          await finishRun(trx, runId, 'failed', files, error);
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
  const found = {
    songs: s3.songs ? [] : await listDataFiles(options.songsDir, 'Song (--songs)'),
    events: s3.events ? [] : await listDataFiles(options.logsDir, 'Log (--logs)'),
  };
  const pick = (source: SourceSpec['name'], files: DataFile[]) =>
    options.fullRefresh || s3[source] ? files : filesToLoad(wh.db, source, files);
  const load = { songs: await pick('songs', found.songs), events: await pick('events', found.events) };
  const totalBytes = [...load.songs, ...load.events].reduce((sum, f) => sum + f.size, 0);

  progress.phase(`Staging ${load.songs.length} song and ${load.events.length} log files`, totalBytes);
  let staged: StageResult;
  const maxErrors = options.maxErrors ?? 0;
  try {
    staged =
      wh.target === 'redshift'
        ? await stageOnRedshift(
            wh,
            [
              { source: SONG_SOURCE, files: load.songs, s3: s3.songs ? options.songsDir : undefined },
              { source: EVENT_SOURCE, files: load.events, s3: s3.events ? options.logsDir : undefined },
            ],
            { runId, maxErrors, gzip: options.gzip, s3Client: options.s3Client, onBytes: (n) => progress.advance(n) },
          )
        : await stageLocalFiles(
            await wh.pool(),
            [
              { source: SONG_SOURCE, files: load.songs },
              { source: EVENT_SOURCE, files: load.events },
            ],
            { maxErrors, onBytes: (n) => progress.advance(n), parseWorkers: options.parseWorkers },
          );
  } finally {
    progress.done();
  }
  // Per-file lineage exists where we COPY the rows ourselves; Redshift counts per COPY.
  if (wh.target === 'postgres') await reconcileStaging(wh.db, staged.files);
  const t1 = performance.now();

  const { transform, tables, checks, catalogue } = await wh.db.transaction().execute(async (trx) => {
    progress.phase('Transforming');
    const transform = await transformStaged(trx, (table) => progress.phase(`Loading ${table}`));
    let checks: CheckResult[] = [];
    if (options.check !== false) {
      progress.phase('Checking');
      // Rules PostgreSQL's constraints enforce need no second look there; Redshift gets every check.
      const enforced = wh.target === 'postgres';
      // Scoped to this run's plays: what earlier runs loaded was checked when they committed.
      checks = await runChecks(trx, WAREHOUSE_CHECKS.filter((c) => !(enforced && c.enforcedByPostgres)), 'run');
      if (failures(checks).length) throw new CheckFailedError(checks);
    }
    progress.phase('Recording the run');
    await markLoaded(trx, runId, staged.files);
    await recordFilesAndRejects(trx, runId, staged.files, staged.rejects);
    await finishRun(trx, runId, 'succeeded', staged.files);
    const tables = await countStarTables(trx);
    const catalogue = await catalogueMatchRate(trx);
    return { transform, tables, checks, catalogue };
  });
  progress.done();
  const t2 = performance.now();

  return {
    runId,
    files: { songs: found.songs.length, events: found.events.length },
    loadedFiles: { songs: load.songs.length, events: load.events.length },
    staged: staged.staged,
    repaired: staged.repaired,
    rejected: staged.rejects.length,
    rejects: staged.rejects,
    fileStats: staged.files,
    transform,
    tables,
    catalogue,
    checks,
    seconds: { stage: (t1 - t0) / 1000, transform: (t2 - t1) / 1000, total: (t2 - t0) / 1000 },
  };
}

/** Row counts of every star table. */
export async function countStarTables(db: Warehouse['db']): Promise<Record<StarTable, number>> {
  const counts = {} as Record<StarTable, number>;
  for (const table of STAR_TABLES) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    counts[table] = Number(row?.n ?? 0);
  }
  return counts;
}
