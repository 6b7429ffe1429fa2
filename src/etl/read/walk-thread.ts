import type { DataFile } from './files.js';
import { errorFromThread, startWorker, type ThreadError } from './threads.js';

/** A batch, the end, or the walk's error. */
export type WalkMessage = { type: 'batch'; batch: DataFile[] } | { type: 'done' } | ThreadError;

/**
 * The walker's young generation: it allocates a batch's entries and lets them go, and V8 grows an
 * uncapped young generation to its maximum (about 48 MB) for that. 100,000 song files beside 1,000
 * events peaked at 166 MB uncapped, 140–147 MB capped, 128–129 MB walked on the main thread, which is
 * where a run with so few logs now walks (OVERLAP_BYTES in pipeline.ts). The old generation is left
 * alone: a directory's entries are held at once, and 400,000 files in one directory need more than
 * a cap would give.
 */
const LIMITS = { maxYoungGenerationSizeMb: 4 };

/**
 * walkDataFiles on a worker thread: the same batches, in the same order, while this thread does
 * other work (the ETL stages the logs while the song files are found: one more day at 1M events,
 * finding and staging 0.86–0.90 → 0.66–0.72 s). The worker stays two batches ahead at most (more
 * gained nothing); returning early stops it.
 */
export async function* walkOffThread(dir: string, setting: string, batchSize = 1000): AsyncGenerator<DataFile[]> {
  const worker = startWorker('walk-worker', { workerData: { dir, setting, batchSize, ahead: 2 }, resourceLimits: LIMITS });
  const messages: WalkMessage[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: WalkMessage) => {
    messages.push(m);
    wake?.();
  });
  // The worker itself failing (out of memory, its module not loading) is not the walk's error.
  const crashed = (reason: string, cause?: unknown) => new Error(`${setting} directory ${dir}: finding the files failed: ${reason}`, { cause });
  worker.on('error', (error) => {
    failure ??= crashed(error.message, error);
    wake?.();
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve())).then(() => {
    // A worker that ends without saying it is done has crashed (its messages came before its exit).
    failure ??= crashed('the worker thread stopped');
    wake?.();
  });
  try {
    for (;;) {
      while (!messages.length && !failure) await new Promise<void>((resolve) => (wake = resolve));
      const m = messages.shift();
      if (!m) throw failure;
      if (m.type === 'done') return;
      if (m.type === 'error') throw errorFromThread(m);
      yield m.batch;
      worker.postMessage('ack');
    }
  } finally {
    await worker.terminate();
    await exited;
  }
}
