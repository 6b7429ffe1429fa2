// Ctrl-C (SIGINT to the whole process group, as a terminal sends it) and SIGTERM (to the command
// alone, as a service manager sends it) at each phase of a run on the embedded server: the run
// stops with one message, publishes nothing, stops the server, exits 130 or 143; the next run
// loads everything.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../src/generate/generator.js';
import { ROOT, sparkify } from './helpers/cli.js';
import { expectedStar, readEvents, readSongs } from './helpers/expected.js';

const MESSAGE = 'Nothing from this run was published; the next run picks up from the last committed one.';

/** Starts `sparkify etl` and sends `signal` when its progress output shows `line`. */
function interruptRun(env: Record<string, string>, args: string[], line: string, signal: 'SIGINT' | 'SIGTERM') {
  return new Promise<{ code: number | null; stderr: string; sent: boolean }>((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/sparkify.js'), 'etl', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // a process group of its own, so that Ctrl-C can be sent to it as a terminal would
    });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (!sent && stderr.includes(line)) {
        sent = true;
        if (signal === 'SIGINT') process.kill(-child.pid!, 'SIGINT');
        else child.kill('SIGTERM');
      }
    });
    child.on('exit', (code) => resolve({ code, stderr, sent }));
  });
}

describe('interrupting a run', () => {
  let data: string;
  let home: string;
  let args: string[];
  let env: Record<string, string>;
  beforeAll(async () => {
    data = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-signals-'));
    home = path.join(data, 'home');
    await fs.chmod(data, 0o755); // the server may run as the "postgres" OS user
    await fs.mkdir(home, { mode: 0o755 });
    await generate({ out: data, songs: 200, events: 15000, seed: 3, days: 4 });
    args = ['--songs', path.join(data, 'song_data'), '--logs', path.join(data, 'log_data')];
    env = { SPARKIFY_HOME: home, DATABASE_URL: '' };
  });
  afterAll(() => fs.rm(data, { recursive: true, force: true }));

  const phases = ['Embedded PostgreSQL listening', 'Finding new and changed files', 'Staging', 'Loading songs', 'Loading songplays', 'Loading time', 'Checking'];
  const cases = phases.flatMap((phase) => (['SIGINT', 'SIGTERM'] as const).map((signal) => [phase, signal] as const));

  it.each(cases)('at "%s", %s stops the run cleanly', async (phase, signal) => {
    const result = await interruptRun(env, args, phase, signal);
    expect(result.sent, result.stderr).toBe(true);
    expect(result.code, result.stderr).toBe(signal === 'SIGINT' ? 130 : 143);
    const after = result.stderr.slice(result.stderr.indexOf(phase));
    expect(after).toContain(`sparkify: interrupted (${signal}). ${MESSAGE}`);
    expect(result.stderr).not.toMatch(/Unhandled|\n\s+at |terminating connection|Error/);
    // The server was stopped before the command exited: a clean shutdown removes its pid file.
    expect(existsSync(path.join(home, 'pgdata', 'postmaster.pid'))).toBe(false);
    // Nothing was published.
    // Nothing was published. (Interrupted before "Finding", the migrations may not have run yet.)
    if (phase !== phases[0]) {
      const star = await sparkify(['query', 'select (select count(*) from songplays) as plays, (select count(*) from loaded_files) as files', '--json'], env);
      expect(star.code, star.stderr).toBe(0);
      expect(JSON.parse(star.stdout)).toEqual([{ plays: 0, files: 0 }]);
    }
  });

  it('the next run loads everything, and `runs` says why the interrupted ones were abandoned', async () => {
    const result = await sparkify(['etl', ...args, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const expected = expectedStar(readSongs(path.join(data, 'song_data')), readEvents(path.join(data, 'log_data')));
    expect(JSON.parse(result.stdout).tables).toEqual(Object.fromEntries(Object.entries(expected).map(([t, rows]) => [t, rows.length])));
    const runs = JSON.parse((await sparkify(['runs', '--json', '--limit', '100'], env)).stdout) as { status: string; error: string | null }[];
    // Interrupts before the run was recorded (while starting or migrating) leave no run behind.
    const abandoned = runs.filter((r) => r.status === 'abandoned');
    expect(abandoned.length).toBeGreaterThanOrEqual(cases.length - 4);
    for (const r of abandoned) expect(r.error).toMatch(/stopped before it finished/);
    expect(runs[0]).toMatchObject({ status: 'succeeded', error: null });
  });
});
