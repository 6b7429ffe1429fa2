import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openWarehouse } from '../src/db/connection.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import type { Database } from '../src/types/database.js';
import { createTestDatabase } from './helpers/db.js';
import { ROOT } from './helpers/cli.js';
import { holdTable, until, waitsOn } from './helpers/locks.js';
import { starSnapshot } from './helpers/snapshot.js';

type Env = Record<string, string>;

/** A warehouse for the environment a run of the command would have. */
const warehouseFor = (env: Env) => openWarehouse({ config: { ...loadConfig(env, '/'), songsDir: '', logsDir: '' } });

/** No session but the asker's on this database: a killed run's server processes have ended (and rolled back). */
async function noOtherSessions(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
    return rows[0].n === 0;
  } finally {
    await client.end();
  }
}

/** `sparkify etl`, with its progress lines (stderr, one per step when not on a terminal) as they come. */
function startRun(env: Env, args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'bin/sparkify.js'), 'etl', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<{ signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (_code, signal) => resolve({ signal })));
  let exitedYet = false;
  void exited.then(() => (exitedYet = true));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return {
    lines: () => stderr.split('\n').filter(Boolean),
    /** Resolves once `line` starts a line of the output; fails if the run ends first. */
    async sees(line: string) {
      await until(`"${line}" in the progress output`, async () => {
        if (stderr.split('\n').some((l) => l.startsWith(line))) return true;
        if (exitedYet) throw new Error(`the run ended before "${line}":\n${stderr}`);
        return false;
      });
    },
    exited,
    async kill() {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/** Everything a run may change: the star tables (with their surrogate ids), the manifest and the run records. */
async function warehouseState(db: Kysely<Database>) {
  return {
    star: await starSnapshot(db),
    songplayIds: await db.selectFrom('songplays').select(['songplay_id', 'start_time', 'session_id', 'item_in_session']).orderBy('songplay_id').execute(),
    loadedFiles: await db.selectFrom('loaded_files').selectAll().orderBy('source').orderBy('path').execute(),
    runs: await db.selectFrom('etl_runs').selectAll().orderBy('started_at').orderBy('run_id').execute(),
    runFiles: await db.selectFrom('etl_run_files').selectAll().orderBy('run_id').orderBy('source').orderBy('path').execute(),
    loadErrors: await db.selectFrom('load_errors').selectAll().orderBy('run_id').orderBy('file').orderBy('line').execute(),
  };
}

/**
 * Where a run is killed: when its progress shows `line`. While it runs, the test holds `hold` (a
 * table lock), so the run cannot get past the step that needs that table; with `waits`, the kill
 * comes only once the run is seen waiting for it, so the step interrupted is known for certain.
 * `loaded_files` is read before staging and written only by the last step ("Recording the run"),
 * so the test takes it once the run is staging (holding staging_songs until then).
 */
interface KillPoint {
  name: string;
  line: string;
  hold?: string;
  waits?: boolean;
  /** The last progress lines the run may have printed when killed. */
  interrupted: string[];
}
const STEP_POINTS: KillPoint[] = [
  { name: 'while staging', line: 'Staging', hold: 'staging_songs', waits: true, interrupted: ['Staging'] },
  ...(['songs', 'artists', 'users', 'songplays', 'time'] as const).map((t) => ({
    name: `while loading ${t}`,
    line: `Loading ${t}`,
    hold: t,
    waits: true,
    interrupted: [`Loading ${t}`],
  })),
  // The checks read only tables the transform already holds: nothing to wait on, but the run cannot commit.
  { name: 'while checking', line: 'Checking', hold: 'loaded_files', interrupted: ['Checking', 'Recording the run'] },
  { name: 'while recording the run, just before commit', line: 'Recording the run', hold: 'loaded_files', waits: true, interrupted: ['Recording the run'] },
];
const point = (name: string) => STEP_POINTS.find((p) => p.name === name)!;

describe('crash safety', () => {
  let data: string;
  let full: { songs: string; logs: string };
  let partial: { songs: string; logs: string };
  let reference: Awaited<ReturnType<typeof starSnapshot>>;
  let runMs = 0;
  beforeAll(async () => {
    data = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-crash-'));
    await generate({ out: path.join(data, 'full'), songs: 300, events: 8000, seed: 3, days: 6 });
    full = { songs: path.join(data, 'full/song_data'), logs: path.join(data, 'full/log_data') };
    // An earlier load: the first four days of logs and every other song file, the same files by the same relative paths.
    await fs.cp(path.join(data, 'full'), path.join(data, 'partial'), { recursive: true, preserveTimestamps: true });
    partial = { songs: path.join(data, 'partial/song_data'), logs: path.join(data, 'partial/log_data') };
    const songFiles = (await fs.readdir(partial.songs, { recursive: true })).filter((f) => f.endsWith('.json')).sort();
    for (const f of songFiles.filter((_, i) => i % 2)) await fs.rm(path.join(partial.songs, f));
    for (const day of ['05', '06']) await fs.rm(path.join(partial.logs, `2018/11/2018-11-${day}-events.json`));

    // The state of one clean run of everything, for comparison.
    const { url, drop } = await createTestDatabase();
    const wh = warehouseFor({ DATABASE_URL: url });
    await migrateToLatest(wh.db);
    await runEtl(wh, { songsDir: full.songs, logsDir: full.logs });
    reference = await starSnapshot(wh.db);
    await wh.destroy();
    await drop();
    // How long a whole run of the command takes here, for a kill timed as a fraction of it.
    const timed = await createTestDatabase();
    const started = performance.now();
    await startRun({ DATABASE_URL: timed.url }, ['--songs', full.songs, '--logs', full.logs]).exited;
    runMs = performance.now() - started;
    await timed.drop();
  });
  afterAll(() => fs.rm(data, { recursive: true, force: true }));

  type Case = { point: KillPoint; target: 'postgres' | 'redshift-emulator'; before: 'empty' | 'loaded' };
  const cases: Case[] = [
    // A run into an empty warehouse, killed in every step.
    ...STEP_POINTS.map((p) => ({ point: p, target: 'postgres' as const, before: 'empty' as const })),
    // A second, incremental run over a loaded warehouse, killed in every step that changes it.
    ...STEP_POINTS.filter((p) => !['while staging', 'while checking'].includes(p.name)).map((p) => ({ point: p, target: 'postgres' as const, before: 'loaded' as const })),
    // The Redshift emulation where its path differs: COPY from S3, the MERGEs, the commit.
    { point: point('while staging'), target: 'redshift-emulator', before: 'empty' },
    { point: point('while loading songplays'), target: 'redshift-emulator', before: 'loaded' },
    { point: point('while recording the run, just before commit'), target: 'redshift-emulator', before: 'loaded' },
  ];

  /** A database for the case: migrated, and loaded with the earlier files for 'loaded'. */
  async function prepare(target: Case['target'], before: Case['before']) {
    const { url, drop } = await createTestDatabase();
    const s3Root = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-s3-'));
    const env: Env = target === 'postgres' ? { DATABASE_URL: url } : { DATABASE_URL: url, SPARKIFY_TARGET: target, SPARKIFY_S3_ROOT: s3Root };
    const wh = warehouseFor(env);
    try {
      await migrateToLatest(wh.db);
      if (before === 'loaded') await runEtl(wh, { songsDir: partial.songs, logsDir: partial.logs });
    } finally {
      await wh.destroy();
    }
    return {
      url,
      env,
      async cleanUp() {
        await drop();
        await fs.rm(s3Root, { recursive: true, force: true });
      },
    };
  }

  /** The state of the warehouse now, read with the case's own target. */
  async function stateOf(env: Env) {
    const wh = warehouseFor(env);
    try {
      return await warehouseState(wh.db);
    } finally {
      await wh.destroy();
    }
  }

  /** Reruns the ETL over everything: it ends in the state of one clean run, with the killed run marked abandoned. */
  async function expectRerunRecovers(env: Env, killedRunId: string | undefined) {
    const wh = warehouseFor(env);
    try {
      const summary = await runEtl(wh, { songsDir: full.songs, logsDir: full.logs });
      expect(await starSnapshot(wh.db)).toEqual(reference);
      const runs = await wh.db.selectFrom('etl_runs').select(['run_id', 'status']).orderBy('started_at').execute();
      if (killedRunId) expect(runs.find((r) => r.run_id === killedRunId)?.status).toBe('abandoned');
      expect(runs.at(-1)).toEqual({ run_id: summary.runId, status: 'succeeded' });
      expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    } finally {
      await wh.destroy();
    }
  }

  /** The killed run published nothing: everything is as before, but for its own record, still 'running' and empty. */
  function expectNothingPublished(before: Awaited<ReturnType<typeof warehouseState>>, after: Awaited<ReturnType<typeof warehouseState>>) {
    expect(after.star).toEqual(before.star);
    expect(after.songplayIds).toEqual(before.songplayIds);
    expect(after.loadedFiles).toEqual(before.loadedFiles);
    expect(after.runFiles).toEqual(before.runFiles);
    expect(after.loadErrors).toEqual(before.loadErrors);
    const known = new Set(before.runs.map((r) => r.run_id));
    expect(after.runs.filter((r) => known.has(r.run_id))).toEqual(before.runs);
    const added = after.runs.filter((r) => !known.has(r.run_id));
    expect(added).toEqual([
      expect.objectContaining({ status: 'running', finished_at: null, files: null, records_read: null, staged: null, rejected: null, error: null }),
    ]);
    return added[0]!.run_id;
  }

  it.each(cases.map((c) => ({ ...c, name: c.point.name })))(
    'a run killed $name ($target, $before warehouse) publishes nothing, and a rerun ends in the state of one clean run',
    async ({ point: p, target, before: prior }) => {
      const db = await prepare(target, prior);
      const released: (() => Promise<void>)[] = [];
      try {
        const before = await stateOf(db.env);
        if (prior === 'loaded') expect(before.star.songplays.length).toBeGreaterThan(0);
        // loaded_files is read while finding files: take it once the run is staging.
        const first = p.hold === 'loaded_files' ? 'staging_songs' : p.hold;
        let holding = first ? await holdTable(db.url, first) : undefined;
        const run = startRun(db.env, ['--songs', full.songs, '--logs', full.logs]);
        if (p.hold === 'loaded_files') {
          await run.sees('Staging');
          await until('the run to wait for staging_songs', () => waitsOn(db.url, 'staging_songs'));
          const loadedFiles = await holdTable(db.url, 'loaded_files');
          await holding!();
          holding = loadedFiles;
        }
        if (holding) released.push(holding);
        await run.sees(p.line);
        if (p.waits) await until(`the run to wait for ${p.hold}`, () => waitsOn(db.url, p.hold!));
        expect(await run.kill()).toEqual({ signal: 'SIGKILL' });
        // The step the run was in when it died: its last progress line.
        const last = run.lines().at(-1)!.replace(/…$/, '');
        expect(p.interrupted.some((l) => last.startsWith(l)), `last progress line: ${last}`).toBe(true);
        for (const release of released.splice(0)) await release();
        // Its server process finishes the statement it was in, finds its client gone, and rolls back.
        await until('the killed run to leave the database', () => noOtherSessions(db.url));

        const killedRunId = expectNothingPublished(before, await stateOf(db.env));
        await expectRerunRecovers(db.env, killedRunId);
      } finally {
        for (const release of released) await release();
        await db.cleanUp();
      }
    },
  );

  it("a run killed at 70% of a clean run's time, then run again, ends in the state of one clean run", async () => {
    const db = await prepare('postgres', 'empty');
    try {
      const before = await stateOf(db.env);
      const run = startRun(db.env, ['--songs', full.songs, '--logs', full.logs]);
      await new Promise((r) => setTimeout(r, 0.7 * runMs));
      await run.kill();
      await until('the killed run to leave the database', () => noOtherSessions(db.url));
      const after = await stateOf(db.env);
      // Wherever it was: it had committed (its record says so), or had not recorded itself yet, or published nothing.
      if (after.runs.at(-1)?.status === 'succeeded') {
        expect(after.star).toEqual(reference);
      } else if (after.runs.length === before.runs.length) {
        expect(after).toEqual(before);
        await expectRerunRecovers(db.env, undefined);
      } else {
        await expectRerunRecovers(db.env, expectNothingPublished(before, after));
      }
    } finally {
      await db.cleanUp();
    }
  });
});
