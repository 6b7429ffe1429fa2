// A worker thread that walks a source directory for walkOffThread (see walk-thread.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { walkDataFiles } from './files.js';
import { ackWindow, threadError } from './threads.js';
import type { WalkMessage } from './walk-thread.js';

const { dir, setting, batchSize, ahead } = workerData as { dir: string; setting: string; batchSize: number; ahead: number };
const port = parentPort!;
const inFlight = ackWindow(ahead);
port.on('message', () => inFlight.acked());

try {
  for await (const batch of walkDataFiles(dir, setting, batchSize)) {
    port.postMessage({ type: 'batch', batch } satisfies WalkMessage);
    // The walk stays at most `ahead` batches in front of what the other thread has taken: memory
    // holds a few batches whatever the number of files.
    await inFlight.sent();
  }
  port.postMessage({ type: 'done' } satisfies WalkMessage);
} catch (error) {
  port.postMessage(threadError(error) satisfies WalkMessage);
}
port.unref();
