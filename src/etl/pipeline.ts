import { performance } from 'node:perf_hooks';
import type { Warehouse } from '../db/connection.js';
import { STAR_TABLES, type StarTable } from '../types/database.js';
import { EVENT_SOURCE, SONG_SOURCE } from '../types/raw.js';
import { CheckFailedError, type CheckResult, runChecks } from './checks.js';
import { listDataFiles } from './files.js';
import type { Reject } from './records.js';
import { type FileStats, stageLocalFiles } from './stage.js';
import { type TransformCounts, transformStaged } from './transform/index.js';

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
  progress?: Progress;
}

export interface EtlSummary {
  files: { songs: number; events: number };
  staged: { songs: number; events: number };
  rejected: number;
  /** The first bad records, when the budget allowed some. */
  rejects: Reject[];
  fileStats: FileStats[];
  transform: TransformCounts;
  /** Row counts of the star tables after the run. */
  tables: Record<StarTable, number>;
  checks: CheckResult[];
  seconds: { stage: number; transform: number; total: number };
}

const silent: Progress = { phase() {}, advance() {}, done() {} };

/**
 * Runs the ETL: stage the song and log files, then transform into the star tables and check them
 * in one transaction, so a failure at any point leaves the star tables as they were.
 */
export async function runEtl(wh: Warehouse, options: EtlOptions): Promise<EtlSummary> {
  const progress = options.progress ?? silent;
  const t0 = performance.now();
  const songFiles = await listDataFiles(options.songsDir, 'Song (--songs)');
  const eventFiles = await listDataFiles(options.logsDir, 'Log (--logs)');
  const totalBytes = [...songFiles, ...eventFiles].reduce((sum, f) => sum + f.size, 0);

  progress.phase(`Staging ${songFiles.length} song and ${eventFiles.length} log files`, totalBytes);
  let staged;
  try {
    staged = await stageLocalFiles(
      await wh.pool(),
      [
        { source: SONG_SOURCE, files: songFiles },
        { source: EVENT_SOURCE, files: eventFiles },
      ],
      { maxErrors: options.maxErrors ?? 0, onBytes: (n) => progress.advance(n) },
    );
  } finally {
    progress.done();
  }
  const t1 = performance.now();

  const { transform, tables, checks } = await wh.db.transaction().execute(async (trx) => {
    progress.phase('Transforming');
    const transform = await transformStaged(trx, (table) => progress.phase(`Loading ${table}`));
    let checks: CheckResult[] = [];
    if (options.check !== false) {
      progress.phase('Checking');
      checks = await runChecks(trx);
      if (checks.some((c) => !c.passed)) throw new CheckFailedError(checks);
    }
    const tables = await countStarTables(trx);
    return { transform, tables, checks };
  });
  progress.done();
  const t2 = performance.now();

  return {
    files: { songs: songFiles.length, events: eventFiles.length },
    staged: staged.staged,
    rejected: staged.rejected,
    rejects: staged.rejects,
    fileStats: staged.files,
    transform,
    tables,
    checks,
    seconds: { stage: (t1 - t0) / 1000, transform: (t2 - t1) / 1000, total: (t2 - t0) / 1000 },
  };
}

/** Row counts of every star table. */
export async function countStarTables(db: Warehouse['db']): Promise<Record<StarTable, number>> {
  const counts = {} as Record<StarTable, number>;
  for (const table of STAR_TABLES) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}
