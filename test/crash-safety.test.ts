import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openWarehouse } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { createTestDatabase } from './helpers/db.js';
import { ROOT } from './helpers/cli.js';
import { starSnapshot } from './helpers/snapshot.js';

/** Starts `sparkify etl` and SIGKILLs it when its progress output shows `line`, or after `ms`. */
function killRun(env: Record<string, string>, args: string[], when: { line?: string; ms?: number }): Promise<{ killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/sparkify.js'), 'etl', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let killed = false;
    const kill = () => {
      killed = child.kill('SIGKILL');
    };
    let seen = '';
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      if (when.line && seen.includes(when.line)) kill();
    });
    if (when.ms !== undefined) setTimeout(kill, when.ms);
    child.on('exit', (code, signal) => resolve({ killed: signal === 'SIGKILL' && killed }));
  });
}

describe('crash safety', () => {
  let data: string;
  let songs: string;
  let logs: string;
  let reference: Awaited<ReturnType<typeof starSnapshot>>;
  let runMs = 0;
  beforeAll(async () => {
    data = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-crash-'));
    await generate({ out: data, songs: 400, events: 30000, seed: 3, days: 6 });
    songs = path.join(data, 'song_data');
    logs = path.join(data, 'log_data');
    // The state of one clean run, for comparison.
    const { url, drop } = await createTestDatabase();
    const wh = openWarehouse({ config: { home: '', databaseUrl: url, songsDir: '', logsDir: '' } });
    await migrateToLatest(wh.db);
    await runEtl(wh, { songsDir: songs, logsDir: logs });
    reference = await starSnapshot(wh.db);
    await wh.destroy();
    await drop();
    // How long a whole run of the command takes here, for kills timed as a fraction of it.
    const timed = await createTestDatabase();
    const started = performance.now();
    await killRun({ DATABASE_URL: timed.url }, ['--songs', songs, '--logs', logs], {});
    runMs = performance.now() - started;
    await timed.drop();
  });
  afterAll(() => fs.rm(data, { recursive: true, force: true }));

  const points: { name: string; when: { line?: string; fraction?: number } }[] = [
    { name: 'while staging', when: { line: 'Staging' } },
    { name: 'while loading songs', when: { line: 'Loading songs' } },
    { name: 'while loading users', when: { line: 'Loading users' } },
    { name: 'while loading songplays', when: { line: 'Loading songplays' } },
    { name: 'while checking, just before commit', when: { line: 'Checking' } },
    { name: "at 70% of a clean run's time", when: { fraction: 0.7 } },
  ];

  // The Redshift emulation at the points where its path differs: COPY from S3, the MERGEs, the commit.
  const emulated = points.filter((p) => ['while staging', 'while loading songplays', 'while checking, just before commit'].includes(p.name));
  const cases = [
    ...points.map((p) => ({ ...p, target: 'postgres' as const })),
    ...emulated.map((p) => ({ ...p, target: 'redshift-emulator' as const })),
  ];

  it.each(cases)('a run killed $name ($target), then run again, ends in the state of one clean run', async ({ when, target }) => {
    const { url, drop } = await createTestDatabase();
    const s3Root = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-s3-'));
    const env: Record<string, string> = target === 'postgres' ? { DATABASE_URL: url } : { DATABASE_URL: url, SPARKIFY_TARGET: target, SPARKIFY_S3_ROOT: s3Root };
    try {
      const ms = when.fraction === undefined ? undefined : when.fraction * runMs;
      const { killed } = await killRun(env, ['--songs', songs, '--logs', logs], { line: when.line, ms });
      expect(killed).toBe(true);
      const wh = openWarehouse({ config: { ...loadConfig(env, '/'), songsDir: '', logsDir: '' } });
      try {
        await migrateToLatest(wh.db);
        await runEtl(wh, { songsDir: songs, logsDir: logs });
        expect(await starSnapshot(wh.db)).toEqual(reference);
        const statuses = (await wh.db.selectFrom('etl_runs').select('status').orderBy('started_at').execute()).map((r) => r.status);
        expect(statuses.at(-1)).toBe('succeeded');
        expect(statuses.filter((s) => s === 'running')).toEqual([]);
      } finally {
        await wh.destroy();
      }
    } finally {
      await drop();
      await fs.rm(s3Root, { recursive: true, force: true });
    }
  });
});
