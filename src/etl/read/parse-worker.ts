// A worker thread that parses data files for the parse pool (see parse-pool.ts).
import { parentPort } from 'node:worker_threads';
import type { SourceSpec } from '../../types/raw.js';
import type { DataFile, FilePart } from './files.js';
import { parseFile, SOURCES } from './parse-file.js';
import { RowBuffer } from './row-buffer.js';
import { ackWindow, threadError } from './threads.js';

type Request = { type: 'parse'; source: SourceSpec['name']; file: DataFile; part?: FilePart } | { type: 'ack' };

/**
 * Batches sent but not yet handed to COPY: enough to ride out the moments the server's COPY is not
 * scheduled (at 3, each worker waited 1.2 s of a 1M-event staging for its acks), few enough to bound
 * memory (2 MiB a worker).
 */
const IN_FLIGHT = 8;

const port = parentPort!;
const inFlight = ackWindow(IN_FLIGHT);

port.on('message', async (message: Request) => {
  if (message.type === 'ack') return inFlight.acked();
  try {
    const out = new RowBuffer(async (bytes) => {
      // Transferred without a copy: the buffer is not used here again.
      port.postMessage({ type: 'rows', rows: bytes }, [bytes.buffer as ArrayBuffer]);
      await inFlight.sent();
    });
    const result = await parseFile(SOURCES[message.source], message.file, out, { part: message.part });
    await out.flush(true);
    // Every batch reaches COPY before the file counts as done (the pool resolves on 'done').
    await inFlight.drained();
    port.postMessage({ type: 'done', result });
  } catch (error) {
    port.postMessage(threadError(error));
  }
});
