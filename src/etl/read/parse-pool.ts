import type { Worker } from 'node:worker_threads';
import type { SourceSpec } from '../../types/raw.js';
import type { DataFile, FilePart } from './files.js';
import type { ParsedFile } from './parse-file.js';
import { errorFromThread, startWorker, type ThreadError } from './threads.js';

/** What a worker sends: a batch of COPY rows (UTF-8, transferred, not copied), its result, or its error. */
type WorkerMessage = { type: 'rows'; rows: Uint8Array } | { type: 'done'; result: ParsedFile } | ThreadError;

/**
 * A worker's heap: parsing holds a chunk and a few batches at a time; a bound keeps one odd file from
 * taking the machine's memory. The young generation is most of what a worker adds: left to grow, two
 * workers took staging 1M events to 313–320 MB; at 16 MB, 285–289 MB and no slower.
 */
const LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 };

/** Worker threads that parse files in parallel; each parses one file at a time. */
export class ParsePool {
  private readonly workers: Worker[];
  private readonly idle: Worker[];
  private waiting: { resolve: (worker: Worker) => void; reject: (error: Error) => void }[] = [];
  private closed = false;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => startWorker('parse-worker', { resourceLimits: LIMITS }));
    this.idle = [...this.workers];
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Parses `file` (or its `part`) on the next free worker, handing each batch of COPY rows to
   * `onRows` before the worker goes on.
   */
  async parse(source: SourceSpec['name'], file: DataFile, onRows: (rows: Buffer) => Promise<void>, part?: FilePart): Promise<ParsedFile> {
    if (this.closed) throw new PoolClosedError();
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve, reject) => this.waiting.push({ resolve, reject })));
    try {
      return await this.run(worker, source, file, onRows, part);
    } finally {
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(worker);
      else this.idle.push(worker);
    }
  }

  private run(worker: Worker, source: SourceSpec['name'], file: DataFile, onRows: (rows: Buffer) => Promise<void>, part?: FilePart): Promise<ParsedFile> {
    return new Promise((resolve, reject) => {
      let writing = Promise.resolve();
      const onMessage = async (message: WorkerMessage) => {
        if (message.type === 'rows') {
          // Batches are written in arrival order: the next one waits for this one's write.
          const rows = Buffer.from(message.rows.buffer, message.rows.byteOffset, message.rows.byteLength);
          writing = writing.then(() => onRows(rows));
          try {
            await writing;
            worker.postMessage({ type: 'ack' });
          } catch (error) {
            done();
            reject(error);
          }
        } else if (message.type === 'done') {
          done();
          resolve(message.result);
        } else {
          done();
          reject(errorFromThread(message));
        }
      };
      const onError = (error: Error) => {
        done();
        reject(error);
      };
      const onExit = () => onError(new PoolClosedError());
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ type: 'parse', source, file, part });
    });
  }

  /** Stops the workers: files being parsed, and those waiting for a worker, fail with PoolClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiting) waiter.reject(new PoolClosedError());
    this.waiting = [];
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The pool was closed (the load it parsed for failed) before a file was parsed. */
export class PoolClosedError extends Error {
  constructor() {
    super('the parse workers were stopped');
  }
}
