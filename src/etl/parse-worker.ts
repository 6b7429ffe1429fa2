// A worker thread that parses data files for the parse pool (see parse-pool.ts).
import { parentPort } from 'node:worker_threads';
import type { DataFile } from './files.js';
import { parseFile, SOURCES } from './parse-file.js';
import type { SourceSpec } from '../types/raw.js';

type Request = { type: 'parse'; source: SourceSpec['name']; file: DataFile } | { type: 'ack' };

const port = parentPort!;
let acked: (() => void) | undefined;

port.on('message', async (message: Request) => {
  if (message.type === 'ack') {
    acked?.();
    return;
  }
  try {
    const result = await parseFile(SOURCES[message.source], message.file, (rows) => {
      // One batch in flight: wait for the main thread to hand it to COPY before parsing on.
      const next = new Promise<void>((resolve) => (acked = resolve));
      port.postMessage({ type: 'rows', rows });
      return next;
    });
    port.postMessage({ type: 'done', result });
  } catch (error) {
    port.postMessage({ type: 'error', message: (error as Error).message });
  }
});
