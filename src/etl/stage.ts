import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { LINEAGE_COLUMNS, type SourceSpec } from '../types/raw.js';
import { type DataFile, readJsonTexts, withReadAhead } from './files.js';
import { type Reject, toCopyRow } from './records.js';

/** The files of one source to stage. */
export interface StageInput {
  source: SourceSpec;
  files: DataFile[];
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
  files: FileStats[];
  /** Every reject (at most the error budget plus the one that broke it). */
  rejects: (Reject & { source: SourceSpec['name'] })[];
  staged: Record<SourceSpec['name'], number>;
}

export interface StageOptions {
  /** Rejects allowed before the load fails, like Redshift's MAXERROR. */
  maxErrors: number;
  /** Called as bytes of input are read. */
  onBytes?: (bytes: number) => void;
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

const BATCH_CHARS = 1 << 18; // COPY writes of ~256 KiB keep per-write overhead negligible

/**
 * Replaces the staging tables' contents with the given files, bulk-loaded with COPY FROM STDIN in
 * one transaction: either every good record is staged or, past the error budget, nothing changes.
 */
export async function stageLocalFiles(pool: pg.Pool, inputs: StageInput[], options: StageOptions): Promise<StageResult> {
  const result: StageResult = { files: [], rejects: [], staged: { songs: 0, events: 0 } };
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const { source } of inputs) await client.query(`truncate table ${quoteIdent(source.table)}`);
    for (const input of inputs) await copySource(client, input, result, options);
    await client.query('commit');
    // Statistics for the transforms' planner: without them it guesses and picks nested loops.
    for (const { source } of inputs) await client.query(`analyze ${quoteIdent(source.table)}`);
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  return result;
}

async function copySource(client: pg.PoolClient, { source, files }: StageInput, result: StageResult, options: StageOptions) {
  const columns = [...source.fields.map((f) => f.column), ...LINEAGE_COLUMNS].map(quoteIdent).join(', ');
  const copy = client.query(copyFrom(`copy ${quoteIdent(source.table)} (${columns}) from stdin`));
  const copyDone = finished(copy);
  copyDone.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  try {
    let batch = '';
    for await (const { file, bytes } of withReadAhead(files)) {
      const stats: FileStats = { file, source: source.name, read: 0, staged: 0, rejected: 0 };
      result.files.push(stats);
      for await (const texts of readJsonTexts(file, options.onBytes, bytes)) {
        for (const text of texts) {
          stats.read++;
          const row = toCopyRow(source, text, file.path);
          if (typeof row === 'string') {
            stats.staged++;
            batch += row;
          } else {
            stats.rejected++;
            result.rejects.push({ ...row, source: source.name });
            if (result.rejects.length > options.maxErrors) throw new RejectBudgetError(result.rejects, options.maxErrors, result.files);
          }
        }
        if (batch.length >= BATCH_CHARS) {
          if (!copy.write(batch)) await once(copy, 'drain');
          batch = '';
        }
      }
      result.staged[source.name] += stats.staged;
    }
    copy.end(batch);
    await copyDone;
  } catch (error) {
    copy.destroy(error as Error); // sends CopyFail so the server abandons the COPY
    await copyDone.catch(() => {});
    throw error;
  }
}

/** Quotes an identifier from our own schema (never user input) for the few raw statements here. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
