import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LINEAGE_COLUMNS, type SourceSpec } from '../../types/raw.js';
import { cannotRead, type DataFile, hashFile, isSmall, readAhead, splitFile } from '../read/files.js';
import { joinParts, type ParsedFile, parseFile } from '../read/parse-file.js';
import { ParsePool, PoolClosedError } from '../read/parse-pool.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, RowBuffer } from '../read/row-buffer.js';
import type { Reject } from '../read/records.js';

/** The files of one source to stage, a page at a time (pages from the run's file queue). */
export interface StageInput {
  source: SourceSpec;
  pages: AsyncIterable<DataFile[]>;
  /** The bytes of its large files (not `isSmall`): they decide whether parse workers start. */
  largeBytes: number;
}

/** What staging did with one file: read = staged + rejected. */
export interface FileStats {
  file: DataFile;
  source: SourceSpec['name'];
  read: number;
  staged: number;
  rejected: number;
}

export interface StageResult {
  /** Per-file counts when the stager keeps them (Redshift's); the PostgreSQL stager hands each to `onFile` instead. */
  files: FileStats[];
  /** Every reject (at most the error budget plus the one that broke it). */
  rejects: (Reject & { source: SourceSpec['name'] })[];
  staged: Record<SourceSpec['name'], number>;
  /** Texts repaired from mis-decoded UTF-8 while staging. */
  repaired: number;
}

export interface StageOptions {
  /** Rejects allowed before the load fails, like Redshift's MAXERROR. */
  maxErrors: number;
  /** Called as bytes of input are read. */
  onBytes?: (bytes: number) => void;
  /** Worker threads that parse files; 0 parses on the main thread. Default: by input size and cores. */
  parseWorkers?: number;
  /** Receives each file's counts, in file order, as its file is staged. */
  onFile?: (stats: FileStats) => void;
}

/** More rejects than the error budget allows; staging was rolled back. */
export class RejectBudgetError extends Error {
  override name = 'RejectBudgetError';
  constructor(
    readonly rejects: StageResult['rejects'],
    readonly maxErrors: number,
    readonly files: FileStats[],
  ) {
    const shown = rejects.slice(0, 5).map((r) => `  ${r.file}:${r.line}: ${r.reason}`);
    super(
      `Bad records exceed the error budget of ${maxErrors} (--max-errors); the load stopped and the ` +
        `warehouse was left unchanged. First bad records:\n${shown.join('\n')}`,
    );
  }
}

/**
 * Replaces the staging tables' contents with the given files, bulk-loaded with binary COPY FROM
 * STDIN, each table on its own connection at the same time (song files, parsed on this thread, load
 * while the workers parse the logs). Both transactions commit only once every load has succeeded:
 * past the error budget, nothing changes. (Should the second commit itself fail, one table is
 * replaced and the other not; the run fails before its transform, and the next run replaces both.)
 * Rejects are counted in input order, then file order, so the budget stops at the same record
 * whatever the timing.
 */
export async function stageLocalFiles(pool: pg.Pool, inputs: StageInput[], options: StageOptions): Promise<StageResult> {
  const result: StageResult = { files: [], rejects: [], staged: { songs: 0, events: 0 }, repaired: 0 };
  const clients: pg.PoolClient[] = [];
  const workers = options.parseWorkers ?? defaultParseWorkers(inputs);
  const parsers = workers > 0 ? new ParsePool(workers) : undefined;
  const stop = { failed: false };
  try {
    for (const _ of inputs) clients.push(await pool.connect());
    // Each input accounts for its files once the one before it has accounted for all of its own.
    let accounted = Promise.resolve();
    const loads = inputs.map((input, i) => {
      const before = accounted;
      const load = (async () => {
        await clients[i]!.query('begin');
        await clients[i]!.query(`truncate table ${pg.escapeIdentifier(input.source.table)}`);
        await copySource(clients[i]!, input, result, options, parsers, before, stop);
      })();
      load.catch(() => {
        // The other loads stop at their next file, or now if they wait on a parse worker: a worker
        // whose batch went to a COPY that ended would otherwise hold them forever.
        stop.failed = true;
        void parsers?.close();
      });
      accounted = load;
      return load;
    });
    // The first failure in input order is the one to report, not a load that stopped because of it.
    const settled = await Promise.allSettled(loads);
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !(s.reason instanceof StoppedError) && !(s.reason instanceof PoolClosedError));
    if (failure) throw failure.reason;
    // Statistics for the transforms' planner (without them it guesses and picks nested loops), taken
    // on both tables at once, in the transactions that load them.
    await Promise.all(inputs.map(({ source }, i) => analyzeStaged(clients[i]!, source)));
    for (const client of clients) await client.query('commit');
  } catch (error) {
    for (const client of clients) await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    for (const client of clients) client.release();
    await parsers?.close();
  }
  return result;
}

/**
 * ANALYZEs a staging table's planned columns from a sample of 3,000 rows (statistics target 10)
 * instead of the default 30,000: the sample, not the columns, is what ANALYZE spends its time on
 * (an incremental day of 33k events: 137 → 25 ms), and the transforms' plans need the table's size
 * and its columns' rough spread, not fine histograms.
 */
async function analyzeStaged(client: pg.PoolClient, source: SourceSpec): Promise<void> {
  const columns = source.plannedColumns ? ` (${source.plannedColumns.map(pg.escapeIdentifier).join(', ')})` : '';
  await client.query(`set local default_statistics_target = 10`);
  await client.query(`analyze ${pg.escapeIdentifier(source.table)}${columns}`);
}

/** A load that stopped because another one failed. */
class StoppedError extends Error {}

/**
 * Above this much input in large files, those files are parsed by worker threads; below it, starting
 * them (0.1–0.2 s to a worker's first rows) and warming their code costs more than it saves: on two
 * cores, one day of the 1M-event benchmark (17 MB) staged in 0.29–0.51 s here and 0.56–0.73 s on
 * two workers, four days (57 MB) in 1.05–1.58 s and 1.29–1.91 s. Small files (song files) are parsed
 * here whatever their number, so they count for nothing: idle workers would only add their heaps
 * (100,000 song files: peak RSS 229 → 157–189 MB).
 */
const PARALLEL_BYTES = 64 << 20;

/**
 * Threads for the large files: up to one per core beyond two (this thread and the server's COPY),
 * at most 4, and on two cores 2 anyway: staging is bound by parsing on this thread, and two workers
 * fill the time the server's COPY leaves on the other core (1M events: 12.6–12.8 s → 10.4–10.5 s,
 * peak RSS 210 → 290 MB). One core gets none.
 */
function defaultParseWorkers(inputs: StageInput[]): number {
  const bytes = inputs.reduce((n, i) => n + i.largeBytes, 0);
  const cores = availableParallelism();
  return bytes >= PARALLEL_BYTES && cores >= 2 ? Math.min(4, Math.max(2, cores - 2)) : 0;
}

/**
 * COPYs one source's files. Its files' counts and rejects are taken in file order once `before`
 * (the inputs before it) has resolved; it stops early when `stop.failed` says another load failed.
 */
async function copySource(
  client: pg.PoolClient,
  { source, pages }: StageInput,
  result: StageResult,
  options: StageOptions,
  pool: ParsePool | undefined,
  before: Promise<void>,
  stop: { failed: boolean },
) {
  const columns = [...source.fields.map((f) => f.column), ...LINEAGE_COLUMNS].map(pg.escapeIdentifier).join(', ');
  // Binary: the server takes each value as it is instead of parsing text (1M events: 4.3 → 3.1–3.7 s
  // of the server's COPY), and no number is turned into text here.
  const copy = client.query(copyFrom(`copy ${pg.escapeIdentifier(source.table)} (${columns}) from stdin with (format binary)`));
  const copyDone = finished(copy);
  copyDone.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  const send = async (data: Buffer) => {
    // A COPY that ended (its load failed) never drains: fail instead of waiting for it.
    if (copy.destroyed) throw new StoppedError();
    if (!copy.write(data)) await once(copy, 'drain');
  };
  await send(BINARY_COPY_HEADER);
  // Rows parsed here, from every file, share one buffer: a song file gives one short row.
  const out = new RowBuffer(send);
  const fromWorker = async (rows: Buffer) => {
    await out.flush(true);
    return send(rows);
  };

  // Files may finish out of order (in parallel); their counts and rejects are taken in file order,
  // so the error budget stops at the same record whatever the timing.
  let files: DataFile[] = [];
  let parsed: (ParsedFile | undefined)[] = [];
  let cursor = 0;
  let overBudget = false;
  let turn = false; // whether the inputs before this one are all accounted for
  before.then(
    () => (turn = true),
    () => {}, // their failure is reported by them
  );
  const account = () => {
    while (turn && !overBudget && cursor < files.length && parsed[cursor]) {
      const p = parsed[cursor]!;
      parsed[cursor] = undefined; // accounted for: memory stays per file, not per file ever parsed
      const file = files[cursor++]!;
      file.hash ??= p.hash;
      options.onFile?.({ file, source: source.name, read: p.read, staged: p.staged, rejected: p.rejects.length });
      result.staged[source.name] += p.staged;
      result.repaired += p.repaired;
      for (const reject of p.rejects) {
        result.rejects.push({ ...reject, source: source.name });
        if (result.rejects.length > options.maxErrors) {
          overBudget = true; // the other lanes stop, and add nothing to what the error reports
          throw new RejectBudgetError(result.rejects, options.maxErrors, result.files);
        }
      }
    }
  };

  // Small files (most song files) are parsed here, read ahead; large ones by the pool when there is one.
  let preloaded = readAhead(files);
  let largeLeft = 0; // large files of the page not yet taken
  const parseOne = (i: number): Promise<ParsedFile> => {
    const file = files[i]!;
    if (pool && !isSmall(file)) return parseLarge(pool, file, largeLeft-- < pool.size);
    return parseFile(source, file, out, { preloaded: preloaded(i), onBytes: options.onBytes });
  };
  /**
   * A large file on the pool. When too few are left to keep every worker busy (the last large files
   * of a page of the queue, 2,000 files; a lone very large file), it is cut into a part per worker, and
   * its hash taken here while they parse. (A 119 MB file on two cores: 2.2–2.7 s against 2.4–3.4 s
   * whole; the server's COPY needs much of the second core. More cores gain more.)
   */
  const parseLarge = async (pool: ParsePool, file: DataFile, cut: boolean): Promise<ParsedFile> => {
    const parts = cut ? await splitFile(file, pool.size) : [];
    if (parts.length < 2) return pool.parse(source.name, file, fromWorker).finally(() => options.onBytes?.(file.size));
    const hash = hashFile(file.path).catch((error) => {
      throw cannotRead(file, error);
    });
    hash.catch(() => {}); // awaited below, after the parts: their failure is the one to report
    const parsed = await Promise.all(parts.map((part) => pool.parse(source.name, file, fromWorker, part).finally(() => options.onBytes?.(part.end - part.start))));
    return joinParts(parsed, await hash);
  };
  let next = 0;
  const lane = async () => {
    while (!overBudget && next < files.length) {
      if (stop.failed) throw new StoppedError();
      const i = next++;
      parsed[i] = await parseOne(i);
      account();
    }
  };

  try {
    // A page of files at a time: memory holds one page, whatever the number of files.
    for await (const page of pages) {
      [files, parsed, cursor, next, preloaded] = [page, [], 0, 0, readAhead(page)];
      largeLeft = page.filter((f) => !isSmall(f)).length;
      await Promise.all(Array.from({ length: pool ? pool.size + 1 : 1 }, lane));
      // The page's files are accounted for before the next page replaces them (`before` settled
      // means `turn` is set: its callback above was registered first).
      await before;
      account();
    }
    await out.flush(true);
    copy.end(BINARY_COPY_TRAILER);
    await copyDone;
  } catch (error) {
    copy.destroy(error as Error); // sends CopyFail so the server abandons the COPY
    await copyDone.catch(() => {});
    throw error;
  }
}

