import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module beside this one (`name` without its extension). Run from
 * TypeScript (tsx, vitest), the worker registers tsx's loader before it loads the module; built
 * JavaScript needs nothing.
 */
export function startWorker(name: string, options: WorkerOptions = {}): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  return fromSource
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`, { ...options, eval: true })
    : new Worker(fileURLToPath(url), options);
}

/**
 * A worker's window of messages sent to the other thread and not yet acknowledged: `sent()` waits
 * while `size` are out, `acked()` counts one back, `drained()` waits for all. Memory then holds a few
 * messages whatever the other thread's pace.
 */
export function ackWindow(size: number) {
  let unacked = 0;
  let resume: (() => void) | undefined;
  const acknowledged = () => new Promise<void>((resolve) => (resume = resolve));
  return {
    async sent(): Promise<void> {
      if (++unacked >= size) await acknowledged();
    },
    acked(): void {
      unacked--;
      resume?.();
      resume = undefined;
    },
    async drained(): Promise<void> {
      while (unacked > 0) await acknowledged();
    },
  };
}

/** A worker's error as it crosses to the other thread: cloned with its message, stack and (built-in) class; `code`, which cloning drops, apart. */
export type ThreadError = { type: 'error'; error: Error; code?: string };

/** The message a worker posts for an error it caught. */
export const threadError = (error: unknown): ThreadError =>
  error instanceof Error ? { type: 'error', error, code: (error as { code?: string }).code } : { type: 'error', error: new Error(String(error)) };

/** The error a worker posted, with its code back. */
export const errorFromThread = ({ error, code }: ThreadError): Error => (code === undefined ? error : Object.assign(error, { code }));
