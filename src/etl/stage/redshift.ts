import { gunzipSync, gzipSync } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Warehouse } from '../../db/connection.js';
import { autoMapsColumns, copyFromS3, isLoadFailure, jsonPathsDocument, lastCopyId, latestLoadErrors, loadErrorsSince, type RedshiftLoadError } from '../../db/redshift/copy.js';
import type { Database } from '../../types/database.js';
import type { SourceSpec } from '../../types/raw.js';
import type { DataFile } from '../read/files.js';
import { JsonSplitter, lastLineOf } from '../read/json-records.js';
import { parseFile } from '../read/parse-file.js';
import { RAW_LIMIT } from '../read/records.js';
import { STAGED_RULES } from './staged-rules.js';
import { RowBuffer } from '../read/row-buffer.js';
import { awsObjectStore, type ObjectStore } from '../../db/object-store.js';
import { copyManifest, parseS3Uri, s3Join } from './s3.js';
import { type FileStats, RejectBudgetError, type StageResult } from './postgres.js';

/** One source to stage on Redshift: local files (validated, then uploaded) or an s3:// prefix. */
export interface RedshiftStageInput {
  source: SourceSpec;
  files?: DataFile[];
  s3?: string;
}

export interface RedshiftStageOptions {
  runId: string;
  maxErrors: number;
  /** For s3:// inputs: whether the objects are gzip'd (COPY cannot tell by itself). */
  gzip?: boolean;
  s3Client?: S3Client;
  onBytes?: (bytes: number) => void;
}

/** A missing Redshift setting, named. */
function need<T>(value: T | undefined, setting: string): T {
  if (value === undefined) throw new Error(`Redshift staging needs ${setting}`);
  return value;
}

/** Marks an upload as the validated form of its source file (bump when that form changes). */
const UPLOAD_FORMAT = 'validated-jsonl-gz-1';

/** One COPY to run: where from, and the local files behind it (for per-file counts and reject lines). */
interface PlannedCopy {
  source: SourceSpec;
  from: string;
  manifest: boolean;
  gzip: boolean;
  region: string | undefined;
  jsonPaths: string;
  /** Uploaded objects → their local file and counts (local inputs only). */
  uploads: Map<string, FileStats>;
}

/**
 * Replaces the staging tables' contents on Redshift with COPY from S3.
 *
 * Local files are validated first by the same parser as the PostgreSQL target, so both targets
 * reject the same records with the same file, line and reason; what is uploaded is each file's good
 * records as gzip'd JSON lines, and one manifest per source names exactly this run's objects. The
 * COPYs run in one transaction on one session; a COPY that fails on its data is rolled back, then
 * its rejects are read on the same session (the transaction was aborted, and SYS_LOAD_ERROR_DETAIL
 * is written outside it) and reported like local ones.
 */
export async function stageOnRedshift(wh: Warehouse, inputs: RedshiftStageInput[], options: RedshiftStageOptions): Promise<StageResult> {
  const settings = need(wh.redshift, 'the Redshift settings');
  const iamRole = need(settings.iamRole, 'REDSHIFT_IAM_ROLE (the role COPY assumes to read S3)');
  const store = wh.objectStore ?? awsObjectStore(options.s3Client ?? new S3Client({ region: settings.region }));
  const result: StageResult = { files: [], rejects: [], staged: { songs: 0, events: 0 }, repaired: 0 };
  const staging = () => need(settings.s3Staging, 'SPARKIFY_S3_STAGING (where local files are uploaded and the JSONPaths file is kept)');
  const regionOf = async (uri: string) => (await store.bucketRegion(parseS3Uri(uri).bucket)) ?? settings.region;

  const copies: PlannedCopy[] = [];
  for (const input of inputs) {
    const { source } = input;
    const files = input.files ?? [];
    if (!input.s3 && !files.length) continue;
    let jsonPaths = 'auto';
    if (!autoMapsColumns(source)) {
      // Written for s3:// inputs too: COPY needs it wherever the data comes from.
      jsonPaths = s3Join(staging(), 'jsonpaths', `${source.table}.json`);
      await store.put(jsonPaths, jsonPathsDocument(source));
    }
    if (input.s3) {
      // A prefix ends with "/": COPY reads every key that starts with it, and s3://b/log must not take
      // s3://b/log_old/ too (the role provisioning makes may list only under "log/").
      const from = input.s3.endsWith('/') ? input.s3 : `${input.s3}/`;
      if (jsonPaths !== 'auto' && jsonPaths.startsWith(from)) {
        // "If the JSONPaths file has the same prefix as the path … COPY reads the JSONPaths file as a data file."
        throw new Error(`SPARKIFY_S3_STAGING (${staging()}) is inside the data prefix ${from}: COPY would read the JSONPaths file as data; keep staging elsewhere.`);
      }
      const region = await regionOf(from);
      // The manifest and JSONPaths file are read in COPY's REGION too: they must share the data's region.
      if (jsonPaths !== 'auto' && (await regionOf(jsonPaths)) !== region) {
        throw new Error(
          `${from} is in ${region} but SPARKIFY_S3_STAGING (${staging()}) is in ${await regionOf(jsonPaths)}: COPY reads the data and its JSONPaths file in one region; use a staging bucket in ${region}.`,
        );
      }
      copies.push({ source, from, manifest: false, gzip: options.gzip ?? false, region, jsonPaths, uploads: new Map() });
      continue;
    }
    const uploads = await validateAndUpload(store, source, files, s3Join(staging(), 'files', source.name), result, options);
    if (!uploads.size) continue;
    const manifest = s3Join(staging(), 'runs', options.runId, `${source.name}.manifest`);
    await store.put(manifest, copyManifest([...uploads.keys()]));
    copies.push({ source, from: manifest, manifest: true, gzip: true, region: await regionOf(manifest), jsonPaths, uploads });
  }

  // The COPY that failed on its data, and the session's COPY id before it.
  const failed: { copy?: PlannedCopy; before: number } = { before: -1 };
  await wh.db.connection().execute(async (session) => {
    try {
      await session.transaction().execute(async (trx) => {
        // DELETE, not TRUNCATE: Redshift's TRUNCATE commits the transaction it runs in.
        for (const { source } of inputs) await trx.deleteFrom(source.table).execute();
        for (const copy of copies) await runCopy(trx, copy, { iamRole, maxErrors: options.maxErrors, result, store, failed });
      });
    } catch (error) {
      if (!failed.copy) throw error;
      // The transaction is rolled back: now the session can read what the failed COPY rejected.
      // (If even that fails, COPY's own error says more than the failure to read its details.)
      const rejects = await readRejects(session, store, failed.copy, loadErrorsSince(failed.before)).catch(() => []);
      if (rejects.length) throw new RejectBudgetError([...result.rejects, ...rejects], options.maxErrors, result.files);
      throw error;
    }
  });
  return result;
}

/** Runs one COPY with what is left of the error budget, and takes its count and rejects. */
async function runCopy(
  trx: Kysely<Database>,
  copy: PlannedCopy,
  { iamRole, maxErrors, result, store, failed }: { iamRole: string; maxErrors: number; result: StageResult; store: ObjectStore; failed: { copy?: PlannedCopy; before: number } },
): Promise<void> {
  const budget = maxErrors - result.rejects.length;
  const before = Number((await lastCopyId().execute(trx)).rows[0]?.id ?? -1);
  try {
    await copyFromS3({ source: copy.source, from: copy.from, manifest: copy.manifest, gzip: copy.gzip, iamRole, region: copy.region, jsonPaths: copy.jsonPaths, maxErrors: budget }).execute(trx);
  } catch (error) {
    // Only COPY's own failure on its data has rejects to read; any other error is reported as it is.
    if (isLoadFailure(error)) Object.assign(failed, { copy, before });
    throw error;
  }
  const count = (await sql<{ n: number }>`select pg_last_copy_count() as n`.execute(trx)).rows[0];
  const staged = Number(count?.n ?? 0);
  const rejects = budget > 0 ? await readRejects(trx, store, copy, latestLoadErrors()) : [];
  // Files from S3 were not validated here: what COPY took but our rules refuse leaves staging now.
  const refused = copy.uploads.size ? { rejects: [], removed: 0 } : await applyStagedRules(trx, copy, maxErrors - result.rejects.length - rejects.length + 1);
  result.rejects.push(...rejects, ...refused.rejects);
  if (result.rejects.length > maxErrors) throw new RejectBudgetError(result.rejects, maxErrors, result.files);
  result.staged[copy.source.name] += staged - refused.removed;
  const expected = [...copy.uploads.values()].reduce((n, f) => n + f.staged, 0);
  // Every validated record is loaded or rejected by COPY (no row at all only in a plan, which runs nothing).
  if (count && copy.uploads.size && staged + rejects.length !== expected) {
    throw new Error(`Reconciliation failed: COPY into ${copy.source.table} loaded ${staged} and rejected ${rejects.length} of the ${expected} validated records it was given.`);
  }
}

/**
 * The staged rows of an s3:// COPY that break a rule COPY cannot apply (staged-rules.ts):
 * removed from staging and returned as rejects. COPY keeps no file or line per row, so a reject
 * names the COPY's source with line 0 and shows the row's values as its raw text; at most `limit`
 * are read back (enough to break the budget), all are removed.
 */
async function applyStagedRules(trx: Kysely<Database>, copy: PlannedCopy, limit: number): Promise<{ rejects: StageResult['rejects']; removed: number }> {
  const db = trx as unknown as Kysely<any>;
  const table = copy.source.table;
  const rejects: StageResult['rejects'] = [];
  let removed = 0;
  for (const rule of STAGED_RULES[copy.source.name]) {
    const rows = await db.selectFrom(table).selectAll().where(rule.violated).limit(Math.max(1, limit - rejects.length)).execute();
    if (!rows.length) continue;
    removed += Number((await db.deleteFrom(table).where(rule.violated).executeTakeFirst()).numDeletedRows);
    for (const row of rows) {
      const { source_file: _f, source_line: _l, ...values } = row as Record<string, unknown>;
      rejects.push({ source: copy.source.name, file: copy.from, line: 0, reason: `${rule.reason} (COPY from S3 keeps no line numbers)`, raw: JSON.stringify(values).slice(0, RAW_LIMIT) });
    }
  }
  return { rejects, removed };
}

/**
 * Validates each local file as the PostgreSQL target does (same parser, same rejects and budget),
 * and uploads its good records as gzip'd JSON lines unless the object for this file content is
 * already there. Returns the uploaded objects and their files' counts.
 */
async function validateAndUpload(
  store: ObjectStore,
  source: SourceSpec,
  files: DataFile[],
  prefix: string,
  result: StageResult,
  options: RedshiftStageOptions,
): Promise<Map<string, FileStats>> {
  const uploads = new Map<string, FileStats>();
  for (const file of files) {
    const chunks: Buffer[] = [];
    const out = new RowBuffer(async (rows) => void chunks.push(rows));
    const parsed = await parseFile(source, file, out, { onBytes: options.onBytes, as: 'json' });
    await out.flush(true);
    const stats: FileStats = { file, source: source.name, read: parsed.read, staged: parsed.staged, rejected: parsed.rejects.length };
    result.files.push(stats);
    result.repaired += parsed.repaired;
    for (const reject of parsed.rejects) {
      result.rejects.push({ ...reject, source: source.name });
      if (result.rejects.length > options.maxErrors) throw new RejectBudgetError(result.rejects, options.maxErrors, result.files);
    }
    if (!parsed.staged) continue;
    const uri = s3Join(prefix, file.relPath.toLowerCase().endsWith('.gz') ? file.relPath : `${file.relPath}.gz`);
    const head = await store.head(uri);
    if (head?.metadata.sha256 !== file.hash || head?.metadata.format !== UPLOAD_FORMAT) {
      await store.put(uri, gzipSync(Buffer.concat(chunks)), { sha256: file.hash!, format: UPLOAD_FORMAT });
    }
    uploads.set(uri, stats);
  }
  return uploads;
}

/**
 * This session's latest COPY's rejects, as the local target reports them: the local file and the
 * line its record starts on for uploaded files, the object and line for s3:// inputs, and the
 * record's text read back from the object (the view has none).
 */
async function readRejects(db: Kysely<Database>, store: ObjectStore, copy: PlannedCopy, query: RawBuilder<RedshiftLoadError>): Promise<StageResult['rejects']> {
  const { rows } = await query.execute(db);
  const texts = new Map<string, Promise<string>>();
  const rejects: StageResult['rejects'] = [];
  for (const r of rows) {
    const upload = copy.uploads.get(r.file_name);
    if (!texts.has(r.file_name)) texts.set(r.file_name, objectText(store, r.file_name, copy.gzip));
    const record = recordEndingAt(await texts.get(r.file_name)!, Number(r.line_number));
    rejects.push({
      source: copy.source.name,
      file: upload ? upload.file.path : r.file_name,
      line: upload ? Number(r.line_number) : (record?.line ?? Number(r.line_number)),
      reason: `${upload ? `(line ${r.line_number} of the uploaded ${r.file_name}) ` : ''}${r.column_name ? `column ${r.column_name}: ` : ''}${r.error_message}`,
      raw: (record?.text ?? '').slice(0, RAW_LIMIT),
    });
  }
  return rejects;
}

async function objectText(store: ObjectStore, uri: string, gzip: boolean): Promise<string> {
  const bytes = await store.get(uri).catch(() => Buffer.alloc(0));
  try {
    return (gzip ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch {
    return '';
  }
}

/** The record whose JSON text ends on `line` (how Redshift numbers a JSON reject), with its first line. */
function recordEndingAt(text: string, line: number): { line: number; text: string } | undefined {
  for (const json of new JsonSplitter().split(text)) {
    if (lastLineOf(json) === line) return { line: json.line, text: json.text };
  }
  return undefined;
}
