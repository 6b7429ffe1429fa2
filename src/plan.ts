import type { Config } from './config.js';
import { migrateToLatest } from './db/migrate.js';
import { type RecordedStatement, recordingWarehouse } from './db/recording.js';
import { iamRoleArn, region as checkRegion, s3Uri } from './db/redshift/values.js';
import { runEtl } from './etl/pipeline.js';

export interface RedshiftPlanOptions {
  songs: string;
  logs: string;
  iamRole: string;
  region: string;
  /** Where the JSONPaths file for the events is (and local files would be uploaded). */
  s3Staging: string;
  maxErrors?: number;
  gzip?: boolean;
}

// The AWS page each Redshift-specific construct follows, for readers of the plan.
const DOCS: [RegExp, string][] = [
  [/\b(diststyle|distkey|sortkey|identity\()/i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html'],
  [/^create temporary table .* as /is, 'https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_AS.html'],
  [/^merge into/i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_MERGE.html'],
  [/^delete from \S+ using/i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_DELETE.html'],
  [/^update \S+ set .* from /is, 'https://docs.aws.amazon.com/redshift/latest/dg/r_UPDATE.html'],
  [/^lock /i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html'],
  [/^set statement_timeout/i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_statement_timeout.html'],
  [/^analyze /i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_ANALYZE.html'],
  [/^truncate /i, 'https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html'],
  [/pg_last_copy_count/i, 'https://docs.aws.amazon.com/redshift/latest/dg/PG_LAST_COPY_COUNT.html'],
];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** A parameter as the plan shows it: run ids and clock readings by name, so plans compare. */
function showParameter(p: unknown): string {
  if (p instanceof Date) return '<now>';
  if (typeof p === 'string') return /^\d{4}-\d\d-\d\d[T ]\d\d:/.test(p) ? '<now>' : JSON.stringify(p.replace(UUID, '<run-id>'));
  return JSON.stringify(p) ?? String(p);
}

function render(statements: RecordedStatement[]): string {
  return statements
    .map(({ sql, parameters }) => {
      const text = sql.trim().replace(UUID, '<run-id>');
      const docs = text.includes('-- https://') ? [] : DOCS.filter(([re]) => re.test(text)).map(([, url]) => `-- ${url}`);
      const params = parameters.length ? `\n-- parameters: ${parameters.map((p, i) => `$${i + 1} = ${showParameter(p)}`).join(', ')}` : '';
      return `${[...docs, text].join('\n')};${params}`;
    })
    .join('\n\n');
}

/**
 * Every SQL statement that `migrate:latest` and `etl` would run on a fresh Redshift warehouse, in
 * order, without connecting: the real migration and ETL code runs against a recording warehouse.
 */
export async function redshiftPlan(options: RedshiftPlanOptions): Promise<string> {
  s3Uri(options.songs, '--songs');
  s3Uri(options.logs, '--logs');
  const config: Config = {
    target: 'redshift',
    home: '',
    songsDir: options.songs,
    logsDir: options.logs,
    redshift: {
      host: 'plan',
      port: 5439,
      database: 'dev',
      user: 'plan',
      password: '',
      auth: 'password',
      ssl: true,
      iamRole: iamRoleArn(options.iamRole, '--iam-role'),
      region: checkRegion(options.region, '--region'),
      s3Staging: s3Uri(options.s3Staging, '--s3-staging'),
    },
  };
  const wh = recordingWarehouse(config);
  await migrateToLatest(wh.db);
  const migrations = wh.statements.splice(0);
  await runEtl(wh, { songsDir: options.songs, logsDir: options.logs, maxErrors: options.maxErrors ?? 0, gzip: options.gzip ?? false });
  const etl = wh.statements.splice(0);
  return `-- Plan: Redshift, migrate:latest then etl (nothing was sent)\n\n-- ===== migrate:latest =====\n\n${render(migrations)}\n\n-- ===== etl =====\n\n${render(etl)}\n`;
}
