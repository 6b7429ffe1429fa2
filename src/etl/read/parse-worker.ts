// A worker thread that parses data files for the parse pool (see parse-pool.ts).
import { parentPort } from 'node:worker_threads';
import type { SourceSpec } from '../../types/raw.js';
import type { DataFile } from './files.js';
import { parseFile, SOURCES } from './parse-file.js';

type Request = { type: 'parse'; source: SourceSpec['name']; file: DataFile } | { type: 'ack' };

/** Batches sent but not yet handed to COPY: enough to keep both threads busy, few enough to bound memory. */
const IN_FLIGHT = 3;

const port = parentPort!;
const encoder = new TextEncoder();
let unacked = 0;
let resume: (() => void) | undefined;

port.on('message', async (message: Request) => {
  if (message.type === 'ack') {
    unacked--;
    resume?.();
    resume = undefined;
    return;
  }
  try {
    const result = await parseFile(SOURCES[message.source], message.file, async (rows) => {
      // Encoded here, off the main thread, and transferred without a copy.
      const bytes = encoder.encode(rows);
      port.postMessage({ type: 'rows', rows: bytes }, [bytes.buffer]);
      if (++unacked >= IN_FLIGHT) await new Promise<void>((resolve) => (resume = resolve));
    });
    // Every batch reaches COPY before the file counts as done (the pool resolves on 'done').
    while (unacked > 0) await new Promise<void>((resolve) => (resume = resolve));
    port.postMessage({ type: 'done', result });
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message });
  }
});
