import { S3Client } from '@aws-sdk/client-s3';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../types/database.js';
import type { Warehouse } from '../db/connection.js';
import { autoMapsColumns, copyFromS3, jsonPathsDocument, latestLoadErrors } from '../db/redshift/copy.js';
import type { SourceSpec } from '../types/raw.js';
import type { DataFile } from './files.js';
import { copyManifest, putText, s3Join, uploadFiles } from './s3.js';
import { type FileStats, RejectBudgetError, type StageResult } from './stage.js';

/** One source to stage on Redshift: local files (uploaded first) or an s3:// prefix. */
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
}

/** A missing Redshift setting, named. */
function need<T>(value: T | undefined, setting: string): T {
  if (value === undefined) throw new Error(`Redshift staging needs ${setting}`);
  return value;
}

/**
 * Replaces the staging tables' contents on Redshift with COPY from S3. Local files are uploaded to
 * SPARKIFY_S3_STAGING and loaded through a manifest naming exactly this run's files (one COPY per
 * source for plain files and one for gzip'd, as GZIP applies to a whole COPY). Rejects within
 * the budget come back from STL_LOAD_ERRORS like local ones: file, line, column, reason.
 */
export async function stageOnRedshift(wh: Warehouse, inputs: RedshiftStageInput[], options: RedshiftStageOptions): Promise<StageResult> {
  const settings = need(wh.redshift, 'the Redshift settings');
  const iamRole = need(settings.iamRole, 'REDSHIFT_IAM_ROLE (the role COPY assumes to read S3)');
  const result: StageResult = { files: [], rejects: [], staged: { songs: 0, events: 0 } };
  const s3 = () => options.s3Client ?? new S3Client({ region: settings.region });
  const stagingPrefix = () => need(settings.s3Staging, 'SPARKIFY_S3_STAGING (where local files are uploaded for COPY)');

  await wh.db.transaction().execute(async (trx) => {
    // DELETE, not TRUNCATE: Redshift's TRUNCATE commits the transaction it runs in.
    for (const { source } of inputs) await trx.deleteFrom(source.table).execute();

    for (const input of inputs) {
      const { source } = input;
      const jsonPaths = autoMapsColumns(source) ? 'auto' : undefined;
      const copies: { from: string; manifest: boolean; gzip: boolean; files: DataFile[] }[] = [];
      let paths = jsonPaths;
      if (input.s3) {
        paths ??= need(settings.s3Staging && s3Join(settings.s3Staging, 'jsonpaths', `${source.table}.json`), 'SPARKIFY_S3_STAGING (for the JSONPaths file)');
        copies.push({ from: input.s3, manifest: false, gzip: options.gzip ?? false, files: [] });
      } else if (input.files?.length) {
        const prefix = stagingPrefix();
        const client = s3();
        if (!paths) {
          paths = s3Join(prefix, 'jsonpaths', `${source.table}.json`);
          await putText(client, paths, jsonPathsDocument(source));
        }
        const objects = await uploadFiles(client, s3Join(prefix, 'files', source.name), input.files);
        for (const gzip of [false, true]) {
          const group = objects.filter((o) => o.file.path.toLowerCase().endsWith('.gz') === gzip);
          if (!group.length) continue;
          const manifest = s3Join(prefix, 'runs', options.runId, `${source.name}${gzip ? '-gz' : ''}.manifest`);
          await putText(client, manifest, copyManifest(group.map((o) => o.uri)));
          copies.push({ from: manifest, manifest: true, gzip, files: group.map((o) => o.file) });
        }
      }
      for (const copy of copies) {
        const budget = options.maxErrors - result.rejects.length;
        try {
          await copyFromS3({ source, from: copy.from, manifest: copy.manifest, gzip: copy.gzip, iamRole, region: settings.region, jsonPaths: paths!, maxErrors: budget }).execute(trx);
        } catch (error) {
          const rejects = await readRejects(trx, source);
          if (rejects.length) throw new RejectBudgetError([...result.rejects, ...rejects], options.maxErrors, result.files);
          throw error;
        }
        const staged = Number((await sql<{ n: number }>`select pg_last_copy_count() as n`.execute(trx)).rows[0]?.n ?? 0);
        const rejects = budget > 0 ? await readRejects(trx, source) : [];
        result.rejects.push(...rejects);
        result.staged[source.name] += staged;
        // Redshift reports counts per COPY, not per file: the COPY's files share its totals.
        result.files.push(...copy.files.map((file, i): FileStats => ({ file, source: source.name, read: i ? 0 : staged + rejects.length, staged: i ? 0 : staged, rejected: i ? 0 : rejects.length })));
      }
    }
  });
  return result;
}

/** This session's latest COPY rejects (STL_LOAD_ERRORS is per session: use the COPY's own connection). */
async function readRejects(db: Kysely<Database>, source: SourceSpec) {
  const { rows } = await latestLoadErrors().execute(db);
  return rows.map((r) => ({
    source: source.name,
    file: r.filename,
    line: r.line_number,
    reason: `${r.colname ? `column ${r.colname}: ` : ''}${r.err_reason}`,
    raw: r.raw_line,
  }));
}
