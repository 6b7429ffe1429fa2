// `npm run bench -- --startup`: how long `sparkify` takes to start, median of several runs.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median } from '../stats.js';

/** What one start-up measurement runs, and the target it is held to (seconds). */
interface Case {
  name: string;
  command: string;
  args: string[];
  target?: number;
}

export interface StartupResult {
  name: string;
  median_s: number;
  min_s: number;
  max_s: number;
  target_s?: number;
  met?: boolean;
}

const BIN = fileURLToPath(new URL('../../../bin/sparkify.js', import.meta.url));
const ROOT = path.dirname(path.dirname(BIN));

async function timeOnce(c: Case, env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  await promisify(execFile)(c.command, c.args, { cwd: ROOT, env, maxBuffer: 16 << 20 });
  return (performance.now() - started) / 1000;
}

/**
 * Times `sparkify --help` and commands on an already initialised embedded warehouse under `root`.
 * A command's own work (one small query) is a few milliseconds of it.
 */
export async function measureStartup(root: string, runs: number, log: (line: string) => void): Promise<StartupResult[]> {
  const home = path.join(root, 'startup-home');
  await fs.mkdir(home, { recursive: true, mode: 0o755 });
  const env = { ...process.env, SPARKIFY_HOME: home, DATABASE_URL: '' };
  log('Initialising the start-up warehouse…');
  execFileSync(process.execPath, [BIN, 'migrate', 'latest'], { env, stdio: 'ignore' });
  const node = process.execPath;
  const cases: Case[] = [
    { name: 'node -e 0 (Node itself)', command: node, args: ['-e', '0'] },
    { name: 'sparkify --help', command: node, args: [BIN, '--help'], target: 0.4 },
    { name: 'sparkify etl --help', command: node, args: [BIN, 'etl', '--help'], target: 0.4 },
    { name: 'sparkify runs (embedded, initialised)', command: node, args: [BIN, 'runs'], target: 1 },
    { name: 'sparkify query "select 1" (embedded)', command: node, args: [BIN, 'query', 'select 1'], target: 1 },
    { name: 'npm run -s runs (through npm)', command: 'npm', args: ['run', '-s', 'runs'] },
  ];
  const results: StartupResult[] = [];
  for (const c of cases) {
    log(`Timing ${c.name} (${runs} runs)…`);
    await timeOnce(c, env); // warm the file cache
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await timeOnce(c, env));
    const m = median(times);
    results.push({
      name: c.name,
      median_s: m,
      min_s: Math.min(...times),
      max_s: Math.max(...times),
      ...(c.target === undefined ? {} : { target_s: c.target, met: m <= c.target }),
    });
  }
  return results;
}
