import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { type DataFile, walkDataFiles } from '../src/etl/read/files.js';
import { walkOffThread } from '../src/etl/read/walk-thread.js';

// walkOffThread's workers, seen through startWorker: how many batches each posted, whether it has
// exited; `crash` starts a worker that throws as it loads instead.
const seen = vi.hoisted(() => ({ workers: [] as { worker: Worker; posted: number; exited: boolean }[], crash: false }));
vi.mock('../src/etl/read/threads.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/etl/read/threads.js')>();
  const { Worker } = await import('node:worker_threads');
  return {
    ...original,
    startWorker(name: string, options: WorkerOptions) {
      const worker = seen.crash ? new Worker(`throw new Error('boom')`, { eval: true }) : original.startWorker(name, options);
      const entry = { worker, posted: 0, exited: false };
      worker.on('message', (m: { type: string }) => void (m.type === 'batch' && entry.posted++));
      worker.once('exit', () => (entry.exited = true));
      seen.workers.push(entry);
      return worker;
    },
  };
});

/** Every batch of a walk. */
async function batchesOf(walk: AsyncGenerator<DataFile[]>): Promise<DataFile[][]> {
  const batches: DataFile[][] = [];
  for await (const b of walk) batches.push(b);
  return batches;
}

/** A tree of 23 song files in 23 directories. */
async function tree(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walk-thread-'));
  for (let i = 0; i < 23; i++) {
    const f = path.join(dir, String.fromCharCode(97 + (i % 5)), String(i), `x${i}.json`);
    await fs.mkdir(path.dirname(f), { recursive: true });
    await fs.writeFile(f, `{"i":${i}}`);
  }
  return dir;
}

const until = async (done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
};

describe('walkOffThread', () => {
  it('gives the batches walkDataFiles gives, in order, and its worker ends with the walk', async () => {
    const dir = await tree();
    const expected = await batchesOf(walkDataFiles(dir, 'Song (--songs)', 4));
    expect(expected.map((b) => b.length)).toEqual([4, 4, 4, 4, 4, 3]);
    expect(await batchesOf(walkOffThread(dir, 'Song (--songs)', 4))).toEqual(expected);
    const worker = seen.workers.at(-1)!;
    await until(() => worker.exited);
    expect(worker).toMatchObject({ posted: 6, exited: true });
  });

  it('stays two batches ahead of what is taken, and stops its worker when the walk is left early', async () => {
    const walk = walkOffThread(await tree(), 'Song (--songs)', 4);
    expect((await walk.next()).value).toHaveLength(4);
    const worker = seen.workers.at(-1)!;
    // Time enough to walk all six batches, were it not held back.
    await new Promise((r) => setTimeout(r, 500));
    expect(worker).toMatchObject({ posted: 2, exited: false });
    await walk.return(undefined);
    expect(worker.exited).toBe(true);
  });

  it('fails as walkDataFiles does, with the setting and the directory in the message', async () => {
    const missing = path.join(os.tmpdir(), `no-such-dir-${process.pid}`);
    await expect(walkOffThread(missing, 'Song (--songs)').next()).rejects.toThrow(`Song (--songs) directory not found: ${missing}`);
  });

  it('a worker that fails by itself fails the walk, naming the setting and the directory, and nothing is left unhandled', async () => {
    seen.crash = true;
    try {
      await expect(walkOffThread('/some/dir', 'Song (--songs)').next()).rejects.toThrow('Song (--songs) directory /some/dir: finding the files failed: boom');
    } finally {
      seen.crash = false;
    }
  });
});
