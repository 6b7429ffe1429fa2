import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in the project root with extra environment, capturing its output. */
export function run(command: string, args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The newest modification time of the TypeScript files below `dir`. */
function newestSource(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => statSync(path.join(e.parentPath, e.name)).mtimeMs),
  );
}

let built: boolean | undefined;

/**
 * The bin runs the compiled dist/ (as installed): `npm test` builds it first. A single test file run
 * by hand after a source change would otherwise test yesterday's code without a word.
 */
function assertBuilt(): void {
  built ??= (() => {
    const main = path.join(ROOT, 'dist/src/cli/main.js');
    const compiled = (() => {
      try {
        return statSync(main).mtimeMs;
      } catch {
        return 0;
      }
    })();
    return compiled >= Math.max(newestSource(path.join(ROOT, 'src')), newestSource(path.join(ROOT, 'migrations')));
  })();
  if (!built) throw new Error('dist/ is missing or older than src/: run `npm run build` (npm test does) before these tests.');
}

/** Runs the sparkify CLI as a user would through its bin (the compiled dist/). */
export function sparkify(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  assertBuilt();
  return run(process.execPath, [path.join(ROOT, 'bin/sparkify.js'), ...args], env);
}
