import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { iamRoleArn, region, s3Uri } from './db/redshift/values.js';

/** Where a Redshift warehouse is and how it loads (from the environment or `<home>/redshift.json`). */
export interface RedshiftConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** TLS is on unless the URL says sslmode=disable (only for tests against a local stand-in). */
  ssl: boolean;
  /** The role COPY assumes to read S3. */
  iamRole?: string;
  region?: string;
  /** s3:// prefix where local files are uploaded for COPY. */
  s3Staging?: string;
}

/** The local Redshift emulation (`SPARKIFY_TARGET=redshift-emulator`) over the PostgreSQL target. */
export interface EmulatorConfig {
  /** The S3 stand-in's folder: s3://bucket/key is <s3Root>/bucket/key (`SPARKIFY_S3_ROOT`). */
  s3Root: string;
  /** Serverless (default) or a provisioned cluster (`SPARKIFY_REDSHIFT_FLAVOUR`). */
  flavour: 'serverless' | 'provisioned';
  /** Which reading of PG_LAST_COPY_ID's page the emulation follows (tests set it; see EmulatorOptions). */
  copyIdOnRollback?: 'kept' | 'restored';
}

/** Settings read from the environment; every command and `connect()` share them. */
export interface Config {
  /** Which kind of warehouse: the embedded/URL PostgreSQL (default), Redshift, or the local Redshift emulation. */
  target?: 'postgres' | 'redshift' | 'redshift-emulator';
  redshift?: RedshiftConfig;
  emulator?: EmulatorConfig;
  /** Where the embedded server keeps its data (`SPARKIFY_HOME`, default `./.sparkify`). */
  home: string;
  /** An external PostgreSQL server (`DATABASE_URL`); when absent the embedded server is used. */
  databaseUrl?: string;
  /** Default song directory for `etl` (`SPARKIFY_SONGS`). */
  songsDir: string;
  /** Default log directory for `etl` (`SPARKIFY_LOGS`). */
  logsDir: string;
}

const postgresUrl = z
  .string()
  .refine((value) => {
    try {
      return ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'must be a URL of the form postgres://user:password@host:port/database');

const schema = z.object({
  SPARKIFY_TARGET: z.enum(['postgres', 'redshift', 'redshift-emulator'], { message: 'must be postgres, redshift or redshift-emulator' }).optional(),
  SPARKIFY_S3_ROOT: z.string().min(1, 'must not be empty').optional(),
  SPARKIFY_REDSHIFT_FLAVOUR: z.enum(['serverless', 'provisioned'], { message: 'must be serverless or provisioned' }).optional(),
  REDSHIFT_URL: postgresUrl.optional(),
  REDSHIFT_HOST: z.string().regex(/^[\w.-]+$/, 'must be a host name').optional(),
  REDSHIFT_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  REDSHIFT_DATABASE: z.string().regex(/^\w+$/, 'must be a database name').optional(),
  REDSHIFT_USER: z.string().min(1).optional(),
  REDSHIFT_PASSWORD: z.string().min(1).optional(),
  REDSHIFT_IAM_ROLE: z.string().refine(ok(iamRoleArn), 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name').optional(),
  AWS_REGION: z.string().refine(ok(region), 'must be a region like us-west-2').optional(),
  SPARKIFY_S3_STAGING: z.string().refine(ok(s3Uri), 'must be an s3:// prefix like s3://bucket/staging/').optional(),
  SPARKIFY_HOME: z.string().min(1, 'must not be empty').optional(),
  DATABASE_URL: postgresUrl.optional(),
  SPARKIFY_SONGS: z.string().min(1, 'must not be empty').optional(),
  SPARKIFY_LOGS: z.string().min(1, 'must not be empty').optional(),
});

/** A configuration problem; the message names the setting and never echoes its value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function ok(validate: (v: string) => string) {
  return (v: string) => {
    try {
      validate(v);
      return true;
    } catch {
      return false;
    }
  };
}

/** The connection file the provisioning script writes, if any (its values yield to the environment). */
function readRedshiftFile(home: string): Record<string, string> {
  const file = path.join(home, 'redshift.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${file} is not valid JSON (${(error as Error).message})`);
  }
}

/** Reads and validates the configuration from `env` (default `process.env`). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const home = path.resolve(cwd, env.SPARKIFY_HOME || '.sparkify');
  // Empty variables count as unset, as shells often export them that way.
  const present = Object.fromEntries(
    Object.entries({ ...readRedshiftFile(home), ...env }).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  return {
    target: s.SPARKIFY_TARGET ?? 'postgres',
    redshift: s.SPARKIFY_TARGET === 'redshift' ? redshiftSettings(s) : s.SPARKIFY_TARGET === 'redshift-emulator' ? emulatedSettings(s) : undefined,
    emulator:
      s.SPARKIFY_TARGET === 'redshift-emulator'
        ? { s3Root: path.resolve(cwd, s.SPARKIFY_S3_ROOT ?? path.join(home, 's3')), flavour: s.SPARKIFY_REDSHIFT_FLAVOUR ?? 'serverless' }
        : undefined,
    home,
    databaseUrl: s.DATABASE_URL,
    songsDir: localOrS3(cwd, s.SPARKIFY_SONGS ?? 'data/song_data'),
    logsDir: localOrS3(cwd, s.SPARKIFY_LOGS ?? 'data/log_data'),
  };
}

function localOrS3(cwd: string, p: string): string {
  return p.startsWith('s3://') ? p : path.resolve(cwd, p);
}

/** Shows a connection URL with its password masked, for logs and errors. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/** The emulation's loading settings: the same variables as Redshift's, with local defaults. */
function emulatedSettings(s: z.infer<typeof schema>): RedshiftConfig {
  return {
    host: 'emulator',
    port: 0,
    database: 'emulator',
    user: 'emulator',
    password: '',
    ssl: false,
    iamRole: s.REDSHIFT_IAM_ROLE ?? 'arn:aws:iam::000000000000:role/sparkify-emulator',
    region: s.AWS_REGION ?? 'us-west-2',
    s3Staging: s.SPARKIFY_S3_STAGING ?? 's3://sparkify-emulator/staging/',
  };
}

/** The Redshift connection, from REDSHIFT_URL or the separate settings; names any that is missing. */
function redshiftSettings(s: z.infer<typeof schema>): RedshiftConfig {
  const common = { iamRole: s.REDSHIFT_IAM_ROLE, region: s.AWS_REGION, s3Staging: s.SPARKIFY_S3_STAGING };
  if (s.REDSHIFT_URL) {
    const u = new URL(s.REDSHIFT_URL);
    return {
      host: u.hostname,
      port: Number(u.port || 5439),
      database: u.pathname.slice(1) || 'dev',
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      ssl: u.searchParams.get('sslmode') !== 'disable',
      ...common,
    };
  }
  const missing = (['REDSHIFT_HOST', 'REDSHIFT_USER', 'REDSHIFT_PASSWORD'] as const).filter((k) => !s[k]);
  if (missing.length) {
    throw new ConfigError(`Invalid configuration: SPARKIFY_TARGET=redshift needs REDSHIFT_URL, or ${missing.join(', ')} (missing)`);
  }
  return {
    host: s.REDSHIFT_HOST!,
    port: s.REDSHIFT_PORT ?? 5439,
    database: s.REDSHIFT_DATABASE ?? 'dev',
    user: s.REDSHIFT_USER!,
    password: s.REDSHIFT_PASSWORD!,
    ssl: true,
    ...common,
  };
}
