import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SourceSpec } from '../types/raw.js';
import type { DataFile } from './files.js';
import type { ParsedFile } from './parse-file.js';

/** Worker threads that parse files in parallel; each parses one file at a time. */
export class ParsePool {
  private readonly workers: Worker[];

  constructor(size: number) {
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(`./parse-worker${fromSource ? '.ts' : '.js'}`, import.meta.url);
    // Run from TypeScript (tsx, vitest), a worker registers tsx's loader before it loads the parser;
    // built JavaScript needs nothing.
    const start = () =>
      fromSource
        ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true })
        : new Worker(fileURLToPath(url));
    this.workers = Array.from({ length: size }, start);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Parses `file` on worker `index`, handing each batch of COPY rows to `onRows` before the worker goes on. */
  parse(index: number, source: SourceSpec['name'], file: DataFile, onRows: (rows: string) => Promise<void>): Promise<ParsedFile> {
    const worker = this.workers[index]!;
    return new Promise((resolve, reject) => {
      const onMessage = async (message: { type: string; rows?: string; result?: ParsedFile; message?: string }) => {
        if (message.type === 'rows') {
          try {
            await onRows(message.rows!);
            worker.postMessage({ type: 'ack' });
          } catch (error) {
            done();
            reject(error);
          }
        } else if (message.type === 'done') {
          done();
          resolve(message.result!);
        } else if (message.type === 'error') {
          done();
          reject(new Error(message.message));
        }
      };
      const onError = (error: Error) => {
        done();
        reject(error);
      };
      const done = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ type: 'parse', source, file });
    });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
