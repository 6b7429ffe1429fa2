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

/** The largest MAXERROR COPY takes (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html#copy-maxerror). */
export const MAXERROR_LIMIT = 100_000;

/**
 * The MAXERROR that tolerates exactly `budget` bad records. The COPY reference says: "If the load
 * returns the error_count number of errors or greater, the load fails … Set this value to 0 or 1 if
 * you want the load to fail as soon as the first error occurs." Read literally, MAXERROR m tolerates
 * m - 1 errors, so a budget of N needs N + 1 (and at most 99,999 can be tolerated). Many users read
 * it as "m errors are tolerated"; the page is not clear, so the ETL also counts the rejects it reads
 * back and fails itself past the budget: the outcome is the same under either reading.
 */
export function maxErrorFor(budget: number): number {
  if (!Number.isInteger(budget) || budget < 0) throw new RangeError(`error budget must be a whole number ≥ 0, not ${budget}`);
  if (budget >= MAXERROR_LIMIT) throw new RangeError(`Redshift's COPY tolerates at most ${MAXERROR_LIMIT - 1} bad records (MAXERROR ${MAXERROR_LIMIT}); --max-errors ${budget} is too many`);
  return budget === 0 ? 0 : budget + 1;
}

/**
 * COPY … FROM S3 FORMAT AS JSON into the source's staging table. Every value that must be SQL text
 * is validated first. Options, after Redshift's COPY reference:
 * - FORMAT AS JSON with a JSONPaths file (or 'auto'): https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-json.html
 * - MANIFEST lists exactly this run's files: https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html
 * - REGION is the region of the bucket holding the data (and the manifest and JSONPaths file):
 *   https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html
 * - MAXERROR from the ETL's error budget (see maxErrorFor); rejects are read back from SYS_LOAD_ERROR_DETAIL.
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
    `maxerror ${maxErrorFor(copy.maxErrors)}`,
    'compupdate off statupdate off',
  ].filter(Boolean);
  return sql`-- https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html
copy ${sql.table(copy.source.table)} (${sql.join(columns)}) from ${sql.raw(literal(s3Uri(copy.from)))} ${sql.raw(options.join(' '))}`;
}

/** A reject as Redshift recorded it. */
export interface RedshiftLoadError {
  file_name: string;
  line_number: number;
  column_name: string;
  error_message: string;
}

/**
 * The rejects of this session's latest COPY, from SYS_LOAD_ERROR_DETAIL, which both provisioned
 * clusters and Serverless have (STL_LOAD_ERRORS is not on Serverless:
 * https://docs.aws.amazon.com/redshift/latest/dg/c_intro_system_views.html), selected by
 * PG_LAST_COPY_ID, which still names a COPY that failed on its data after its transaction was
 * rolled back (https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html). The view keeps
 * no raw line: the caller reads the record from the file.
 */
export function latestLoadErrors(): RawBuilder<RedshiftLoadError> {
  return loadErrors(sql`query_id = pg_last_copy_id()`);
}

/**
 * The rejects of this session's COPYs after the one whose id was `before`: how a COPY that failed
 * on its data is read once its transaction is rolled back. PG_LAST_COPY_ID's page says both that a
 * COPY failing on its data updates the id and that a rolled-back COPY does not, so the failed
 * COPY is found by its session and by coming after `before`, which holds under either reading.
 */
export function loadErrorsSince(before: number): RawBuilder<RedshiftLoadError> {
  return loadErrors(sql`session_id = pg_backend_pid() and query_id > ${sql.lit(Math.trunc(before))}`);
}

function loadErrors(where: RawBuilder<unknown>): RawBuilder<RedshiftLoadError> {
  return sql<RedshiftLoadError>`-- https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html
select trim(file_name) as file_name, line_number, trim(column_name) as column_name, trim(error_message) as error_message
from sys_load_error_detail
where ${where}
order by file_name, line_number`;
}

/** This session's latest COPY id (-1 before the first): https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_ID.html */
export function lastCopyId(): RawBuilder<{ id: number }> {
  return sql<{ id: number }>`select pg_last_copy_id() as id`;
}

/** Whether an error is COPY's own failure on its data (past MAXERROR), whose rejects are worth reading. */
export function isLoadFailure(error: unknown): boolean {
  // Stryker disable next-line StringLiteral: equivalent — no other text without a message matches the pattern either.
  return /^Load into table '[^']+' failed/.test((error as Error)?.message ?? '');
}
