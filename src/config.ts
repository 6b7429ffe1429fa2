import path from 'node:path';
import { z } from 'zod';

/** Settings read from the environment; every command and `connect()` share them. */
export interface Config {
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
  SPARKIFY_HOME: z.string().min(1, 'must not be empty').optional(),
  DATABASE_URL: postgresUrl.optional(),
  SPARKIFY_SONGS: z.string().min(1, 'must not be empty').optional(),
  SPARKIFY_LOGS: z.string().min(1, 'must not be empty').optional(),
});

/** A configuration problem; the message names the setting and never echoes its value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the configuration from `env` (default `process.env`). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  // Empty variables count as unset, as shells often export them that way.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const s = parsed.data;
  return {
    home: path.resolve(cwd, s.SPARKIFY_HOME ?? '.sparkify'),
    databaseUrl: s.DATABASE_URL,
    songsDir: path.resolve(cwd, s.SPARKIFY_SONGS ?? 'data/song_data'),
    logsDir: path.resolve(cwd, s.SPARKIFY_LOGS ?? 'data/log_data'),
  };
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
