import { type RawBuilder, sql } from 'kysely';
import type { SourceSpec } from '../../types/raw.js';
import { iamRoleArn, literal, region as checkRegion, s3Uri } from './values.js';

/** One COPY from S3 into a staging table. */
export interface S3Copy {
  source: SourceSpec;
  /** s3:// prefix of the files, or of a manifest when `manifest` is set. */
  from: string;
  manifest: boolean;
  iamRole: string;
  region?: string;
  /** s3:// URI of the JSONPaths file, or 'auto' when the JSON keys are the column names. */
  jsonPaths: string;
  gzip: boolean;
  /** Bad records tolerated (the ETL's --max-errors). */
  maxErrors: number;
}

/** The JSONPaths document that maps a source's JSON keys to its staging columns, in column order. */
export function jsonPathsDocument(source: SourceSpec): string {
  return `${JSON.stringify({ jsonpaths: source.fields.map((f) => `$['${f.json}']`) }, null, 2)}\n`;
}

/** Whether 'auto' can map a source: every JSON key is already its column's name. */
export function autoMapsColumns(source: SourceSpec): boolean {
  return source.fields.every((f) => f.json === f.column);
}

/**
 * COPY … FROM S3 FORMAT AS JSON into the source's staging table. Every value that must be SQL text
 * is validated first. Options, after Redshift's COPY reference:
 * - FORMAT AS JSON with a JSONPaths file (or 'auto'): https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html
 * - MANIFEST lists exactly this run's files: https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html
 * - MAXERROR is the ETL's error budget; rejects are read back from STL_LOAD_ERRORS.
 * - COMPUPDATE OFF, STATUPDATE OFF: staging is refilled every run, so analysing encodings and
 *   statistics on each load costs more than it gives (https://docs.aws.amazon.com/redshift/latest/dg/c_best-practices-use-copy.html).
 * - No TIMEFORMAT: `ts` stays epoch milliseconds (BIGINT) in staging and the transform converts it,
 *   the same on both targets.
 */
export function copyFromS3(copy: S3Copy): RawBuilder<unknown> {
  const columns = copy.source.fields.map((f) => sql.ref(f.column));
  const jsonPaths = copy.jsonPaths === 'auto' ? "'auto'" : literal(s3Uri(copy.jsonPaths, 'JSONPaths file'));
  const options = [
    `iam_role ${literal(iamRoleArn(copy.iamRole))}`,
    copy.region ? `region ${literal(checkRegion(copy.region))}` : '',
    `format as json ${jsonPaths}`,
    copy.manifest ? 'manifest' : '',
    copy.gzip ? 'gzip' : '',
    `maxerror ${Math.max(0, Math.trunc(copy.maxErrors))}`,
    'compupdate off statupdate off',
  ].filter(Boolean);
  return sql`-- https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
copy ${sql.table(copy.source.table)} (${sql.join(columns)}) from ${sql.raw(literal(s3Uri(copy.from)))} ${sql.raw(options.join(' '))}`;
}

/** A reject as Redshift recorded it. */
export interface RedshiftLoadError {
  filename: string;
  line_number: number;
  colname: string;
  err_reason: string;
  raw_line: string;
}

/**
 * The rejects of this session's latest COPY, from STL_LOAD_ERRORS
 * (https://docs.aws.amazon.com/redshift/latest/dg/r_STL_LOAD_ERRORS.html).
 */
export function latestLoadErrors(): RawBuilder<RedshiftLoadError> {
  return sql<RedshiftLoadError>`select trim(filename) as filename, line_number, trim(colname) as colname, trim(err_reason) as err_reason, trim(raw_line) as raw_line
from stl_load_errors
where query = (select max(query) from stl_load_errors where session = pg_backend_pid())
order by filename, line_number`;
}
