import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LINEAGE_COLUMNS, type SourceSpec } from '../../types/raw.js';
import { type DataFile, isSmall, readAhead } from '../read/files.js';
import { type ParsedFile, parseFile } from '../read/parse-file.js';
import { ParsePool } from '../read/parse-pool.js';
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
 * Replaces the staging tables' contents with the given files, bulk-loaded with binary COPY FROM STDIN in
 * one transaction: either every good record is staged or, past the error budget, nothing changes.
 */
export async function stageLocalFiles(pool: pg.Pool, inputs: StageInput[], options: StageOptions): Promise<StageResult> {
  const result: StageResult = { files: [], rejects: [], staged: { songs: 0, events: 0 }, repaired: 0 };
  const client = await pool.connect();
  const workers = options.parseWorkers ?? defaultParseWorkers(inputs);
  const parsers = workers > 0 ? new ParsePool(workers) : undefined;
  try {
    await client.query('begin');
    for (const { source } of inputs) await client.query(`truncate table ${pg.escapeIdentifier(source.table)}`);
    for (const input of inputs) await copySource(client, input, result, options, parsers);
    await client.query('commit');
    // Statistics for the transforms' planner: without them it guesses and picks nested loops.
    for (const { source } of inputs) {
      const columns = source.plannedColumns ? ` (${source.plannedColumns.map(pg.escapeIdentifier).join(', ')})` : '';
      await client.query(`analyze ${pg.escapeIdentifier(source.table)}${columns}`);
    }
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
    await parsers?.close();
  }
  return result;
}

/**
 * Above this much input in large files, those files are parsed by worker threads; below it, starting
 * them costs more than it saves. Small files (song files) are parsed here whatever their number, so
 * they count for nothing: idle workers would only add their heaps (100,000 song files: peak RSS 229 → 157–189 MB).
 */
const PARALLEL_BYTES = 16 << 20;

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

async function copySource(
  client: pg.PoolClient,
  { source, pages }: StageInput,
  result: StageResult,
  options: StageOptions,
  pool: ParsePool | undefined,
) {
  const columns = [...source.fields.map((f) => f.column), ...LINEAGE_COLUMNS].map(pg.escapeIdentifier).join(', ');
  // Binary: the server takes each value as it is instead of parsing text (1M events: 4.3 → 3.1–3.7 s
  // of the server's COPY), and no number is turned into text here.
  const copy = client.query(copyFrom(`copy ${pg.escapeIdentifier(source.table)} (${columns}) from stdin with (format binary)`));
  const copyDone = finished(copy);
  copyDone.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  const send = async (data: Buffer) => {
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
  const account = () => {
    while (!overBudget && cursor < files.length && parsed[cursor]) {
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
  const parseOne = (i: number): Promise<ParsedFile> => {
    const file = files[i]!;
    if (pool && !isSmall(file)) return pool.parse(source.name, file, fromWorker).finally(() => options.onBytes?.(file.size));
    return parseFile(source, file, out, preloaded(i), options.onBytes);
  };
  let next = 0;
  const lane = async () => {
    while (!overBudget && next < files.length) {
      const i = next++;
      parsed[i] = await parseOne(i);
      account();
    }
  };

  try {
    // A page of files at a time: memory holds one page, whatever the number of files.
    for await (const page of pages) {
      [files, parsed, cursor, next, preloaded] = [page, [], 0, 0, readAhead(page)];
      await Promise.all(Array.from({ length: pool ? pool.size + 1 : 1 }, lane));
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

