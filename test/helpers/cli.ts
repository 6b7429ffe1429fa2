import { execFile } from 'node:child_process';
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

/** Runs the sparkify CLI as a user would through its bin. */
export function sparkify(args: string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return run(process.execPath, [path.join(ROOT, 'bin/sparkify.js'), ...args], env);
}
