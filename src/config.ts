import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { IamLogin } from './db/redshift/iam.js';
import { iamRoleArn, region, s3Uri } from './db/redshift/values.js';

/** Where a Redshift warehouse is and how it loads (from the environment or `<home>/redshift.json`). */
export interface RedshiftConfig {
  host: string;
  port: number;
  database: string;
  /** The database user: named for password logins; with IAM, empty until minted (unless REDSHIFT_USER names one). */
  user: string;
  /** Empty with IAM: minted logins live in memory only. */
  password: string;
  /** How to log in (`REDSHIFT_AUTH`): a stored password, or short-lived IAM credentials. */
  auth: 'password' | 'iam';
  /** The credential API and its arguments when `auth` is 'iam'. */
  iam?: IamLogin;
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
  /** The IAM identity IAM logins map from (`SPARKIFY_EMULATOR_IDENTITY`, an IAM user or role ARN). */
  identity: string;
  /** Tests only: every minted login lives this long, to see refreshes within a test. */
  credentialLifetimeMs?: number;
}

/** Settings read from the environment; every command and `connect()` share them. */
export interface Config {
  /** Which kind of warehouse: the embedded/URL PostgreSQL (default), Redshift, or the local Redshift emulation. */
  target?: 'postgres' | 'redshift' | 'redshift-emulator';
  redshift?: RedshiftConfig;
  emulator?: EmulatorConfig;
  /** Where the embedded server keeps its data (`SPARKIFY_HOME`, default `./.sparkify`). */
  home: string;
  /** The embedded server's settings when this process starts it (`SPARKIFY_EMBEDDED_SETTINGS`, default tuned). */
  embeddedSettings?: 'tuned' | 'stock';
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
  SPARKIFY_EMULATOR_IDENTITY: z.string().regex(/^arn:aws:(iam::\d{12}:(user|role)\/|sts::\d{12}:assumed-role\/)[\w+=,.@\/-]+$/, 'must be an IAM user or role ARN').optional(),
  SPARKIFY_REDSHIFT_FLAVOUR: z.enum(['serverless', 'provisioned'], { message: 'must be serverless or provisioned' }).optional(),
  REDSHIFT_URL: postgresUrl.optional(),
  REDSHIFT_HOST: z.string().regex(/^[\w.-]+$/, 'must be a host name').optional(),
  REDSHIFT_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  REDSHIFT_DATABASE: z.string().regex(/^\w+$/, 'must be a database name').optional(),
  REDSHIFT_USER: z.string().min(1).optional(),
  REDSHIFT_PASSWORD: z.string().min(1).optional(),
  REDSHIFT_AUTH: z.enum(['password', 'iam'], { message: 'must be password or iam' }).optional(),
  REDSHIFT_CLUSTER: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a cluster identifier like sparkify-dwh').optional(),
  REDSHIFT_WORKGROUP: z.string().regex(/^[a-z0-9-]{3,64}$/, 'must be a Serverless workgroup name like sparkify-dwh').optional(),
  REDSHIFT_AUTO_CREATE: z.enum(['true', 'false'], { message: 'must be true or false' }).optional(),
  REDSHIFT_IAM_DURATION: z.coerce.number().int().min(900, 'must be 900 to 3600 seconds').max(3600, 'must be 900 to 3600 seconds').optional(),
  REDSHIFT_IAM_ROLE: z.string().refine(ok(iamRoleArn), 'must be an IAM role ARN like arn:aws:iam::123456789012:role/name').optional(),
  AWS_REGION: z.string().refine(ok(region), 'must be a region like us-west-2').optional(),
  SPARKIFY_S3_STAGING: z.string().refine(ok(s3Uri), 'must be an s3:// prefix like s3://bucket/staging/').optional(),
  SPARKIFY_HOME: z.string().min(1, 'must not be empty').optional(),
  SPARKIFY_EMBEDDED_SETTINGS: z.enum(['tuned', 'stock'], { message: 'must be tuned or stock' }).optional(),
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
        ? {
            s3Root: path.resolve(cwd, s.SPARKIFY_S3_ROOT ?? path.join(home, 's3')),
            flavour: s.SPARKIFY_REDSHIFT_FLAVOUR ?? 'serverless',
            identity: s.SPARKIFY_EMULATOR_IDENTITY ?? 'arn:aws:iam::000000000000:role/sparkify-etl',
          }
        : undefined,
    home,
    embeddedSettings: s.SPARKIFY_EMBEDDED_SETTINGS ?? 'tuned',
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
  const auth = s.REDSHIFT_AUTH ?? 'password';
  const serverless = (s.SPARKIFY_REDSHIFT_FLAVOUR ?? 'serverless') === 'serverless';
  const name = serverless ? (s.REDSHIFT_WORKGROUP ?? 'sparkify-emulator') : (s.REDSHIFT_CLUSTER ?? 'sparkify-emulator');
  return {
    host: 'emulator',
    port: 0,
    database: 'emulator',
    user: auth === 'iam' ? (s.REDSHIFT_USER ?? '') : 'emulator',
    password: '',
    auth,
    iam: auth === 'iam' ? iamLogin(s, serverless, name, 'emulator', s.AWS_REGION ?? 'us-west-2') : undefined,
    ssl: false,
    iamRole: s.REDSHIFT_IAM_ROLE ?? 'arn:aws:iam::000000000000:role/sparkify-emulator',
    region: s.AWS_REGION ?? 'us-west-2',
    s3Staging: s.SPARKIFY_S3_STAGING ?? 's3://sparkify-emulator/staging/',
  };
}

/** The Redshift connection, from REDSHIFT_URL or the separate settings; names any that is missing. */
function redshiftSettings(s: z.infer<typeof schema>): RedshiftConfig {
  const auth = s.REDSHIFT_AUTH ?? 'password';
  const url = s.REDSHIFT_URL ? new URL(s.REDSHIFT_URL) : undefined;
  const host = url?.hostname ?? s.REDSHIFT_HOST;
  const user = url ? decodeURIComponent(url.username) : (s.REDSHIFT_USER ?? '');
  const password = url ? decodeURIComponent(url.password) : (s.REDSHIFT_PASSWORD ?? '');
  const needed = auth === 'iam' ? (['REDSHIFT_HOST'] as const) : (['REDSHIFT_HOST', 'REDSHIFT_USER', 'REDSHIFT_PASSWORD'] as const);
  const missing = url ? [] : needed.filter((k) => !s[k]);
  if (missing.length) {
    const other = auth === 'iam' ? '' : ' (or REDSHIFT_AUTH=iam to log in with short-lived IAM credentials)';
    throw new ConfigError(`Invalid configuration: SPARKIFY_TARGET=redshift needs REDSHIFT_URL, or ${missing.join(', ')} (missing)${other}`);
  }
  const database = (url ? url.pathname.slice(1) : s.REDSHIFT_DATABASE) || 'dev';
  const endpoint = parseEndpoint(host!);
  const awsRegion = s.AWS_REGION ?? endpoint?.region;
  let iam: IamLogin | undefined;
  if (auth === 'iam') {
    const serverless = Boolean(s.REDSHIFT_WORKGROUP) || (!s.REDSHIFT_CLUSTER && endpoint?.kind === 'workgroup');
    const name = serverless ? (s.REDSHIFT_WORKGROUP ?? endpoint?.name) : (s.REDSHIFT_CLUSTER ?? endpoint?.name);
    if (!name) throw new ConfigError('Invalid configuration: REDSHIFT_AUTH=iam needs REDSHIFT_CLUSTER (a provisioned cluster) or REDSHIFT_WORKGROUP (Serverless): the host is not an AWS endpoint they can be read from');
    if (!awsRegion) throw new ConfigError('Invalid configuration: REDSHIFT_AUTH=iam needs AWS_REGION (the host does not name its region)');
    iam = iamLogin(s, serverless, name, database, awsRegion);
  }
  return {
    host: host!,
    port: Number(url?.port || s.REDSHIFT_PORT || 5439),
    database,
    user: auth === 'iam' ? (s.REDSHIFT_USER ?? '') : user,
    password: auth === 'iam' ? '' : password,
    auth,
    iam,
    ssl: url ? url.searchParams.get('sslmode') !== 'disable' : true,
    iamRole: s.REDSHIFT_IAM_ROLE,
    region: awsRegion,
    s3Staging: s.SPARKIFY_S3_STAGING,
  };
}

/** Which credential API an IAM login uses: REDSHIFT_USER picks GetClusterCredentials (clusters only). */
function iamLogin(s: z.infer<typeof schema>, serverless: boolean, name: string, database: string, region: string): IamLogin {
  const durationSeconds = s.REDSHIFT_IAM_DURATION ?? 3600;
  if (serverless) {
    if (s.REDSHIFT_USER) {
      throw new ConfigError('Invalid configuration: REDSHIFT_USER cannot choose the user of a Serverless IAM login (GetCredentials maps your IAM identity): unset it, or use REDSHIFT_AUTH=password');
    }
    return { api: 'GetCredentials', workgroup: name, database, region, durationSeconds };
  }
  if (s.REDSHIFT_USER) {
    return { api: 'GetClusterCredentials', cluster: name, database, region, durationSeconds, user: s.REDSHIFT_USER, autoCreate: s.REDSHIFT_AUTO_CREATE === 'true' };
  }
  return { api: 'GetClusterCredentialsWithIAM', cluster: name, database, region, durationSeconds };
}

/**
 * What an AWS endpoint names: <cluster>.<id>.<region>.redshift.amazonaws.com, or
 * <workgroup>.<account>.<region>.redshift-serverless.amazonaws.com
 * (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-connecting.html).
 */
export function parseEndpoint(host: string): { kind: 'cluster' | 'workgroup'; name: string; region: string } | undefined {
  const m = /^([a-z0-9-]+)\.[a-z0-9]+\.([a-z]{2}(?:-[a-z]+)+-\d)\.(redshift|redshift-serverless)\.amazonaws\.com(?:\.cn)?$/.exec(host.toLowerCase());
  if (!m) return undefined;
  return { kind: m[3] === 'redshift' ? 'cluster' : 'workgroup', name: m[1]!, region: m[2]! };
}
