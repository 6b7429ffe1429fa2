import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { openTestWarehouse } from './helpers/db.js';
import { event, song, writeTree } from './helpers/files.js';
import { starSnapshot } from './helpers/snapshot.js';

// When the ETL finds the song files on a worker thread beside the logs' staging, and what a walk that
// fails there does to the run. walkOffThread is the real one, counted, and made to fail on demand
// after its first batch (as a directory that cannot be read halfway through would).
const walker = vi.hoisted(() => ({ calls: 0, failAfterFirst: false }));
vi.mock('../src/etl/read/walk-thread.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/etl/read/walk-thread.js')>();
  return {
    ...original,
    async *walkOffThread(dir: string, setting: string, batchSize?: number) {
      walker.calls++;
      for await (const batch of original.walkOffThread(dir, setting, batchSize)) {
        yield batch;
        if (walker.failAfterFirst) throw new Error(`${setting} directory ${dir}: cannot read a directory (test)`);
      }
    },
  };
});

describe('finding the song files beside the logs', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let songs: string;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    songs = await writeTree(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`A/${i % 7}/${i}.json`, song({ song_id: `S${i}`, title: `T${i}` })])));
  });
  afterAll(() => wh.close());

  /** Logs of about `mb` MB: padded events, a distinct play each. */
  const logs = (mb: number, day: number) => {
    const n = Math.ceil((mb * (1 << 20)) / 700);
    const lines = Array.from({ length: n }, (_, i) => event({ page: 'NextSong', song: `T${i % 40}`, ts: 1541990000000 + day * 1e8 + i, sessionId: day, itemInSession: i, location: 'x'.repeat(500) }));
    return writeTree({ [`2018/11/day-${day}.json`]: lines.join('\n') });
  };

  it('walks them on a thread from 4 MB of logs, on this one below it, to the same warehouse', async () => {
    const small = await logs(1, 1);
    const large = await logs(4.2, 2);
    expect(statSync(path.join(large, '2018/11/day-2.json')).size).toBeGreaterThan(4 << 20);
    walker.calls = 0;
    await runEtl(wh, { songsDir: songs, logsDir: small, fullRefresh: true });
    expect(walker.calls).toBe(0);
    const onThread = await runEtl(wh, { songsDir: songs, logsDir: large, fullRefresh: true });
    expect(walker.calls).toBe(1);
    const tables = await starSnapshot(wh.db);
    // The same files and rows with the walk forced onto this thread.
    const inline = await runEtl(wh, { songsDir: songs, logsDir: large, fullRefresh: true, findSongsOnThread: false });
    expect(walker.calls).toBe(1);
    expect([inline.files, inline.staged, inline.transform.songplays.updated]).toEqual([onThread.files, onThread.staged, 0]);
    expect(await starSnapshot(wh.db)).toEqual(tables);
    expect(onThread.files).toEqual({ songs: 40, events: 1 });
  });

  it('a walk that fails while the logs stage fails the run with its error, rolls staging back and leaves the warehouse as it was', async () => {
    const before = await starSnapshot(wh.db);
    const day = await logs(1, 3);
    walker.failAfterFirst = true;
    try {
      const run = runEtl(wh, { songsDir: songs, logsDir: day, findSongsOnThread: true, fullRefresh: true });
      await expect(run).rejects.toThrow(`Song (--songs) directory ${songs}: cannot read a directory (test)`);
    } finally {
      walker.failAfterFirst = false;
    }
    expect(await starSnapshot(wh.db)).toEqual(before);
    expect(await wh.db.selectFrom('staging_events').select('ts').limit(1).execute()).toEqual([]);
    expect(await wh.db.selectFrom('etl_file_queue').select('path').execute()).toEqual([]);
    const last = await wh.db.selectFrom('etl_runs').select(['status', 'error']).orderBy('started_at', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(last).toEqual({ status: 'failed', error: expect.stringContaining('cannot read a directory (test)') });
    // The next run loads the day.
    const next = await runEtl(wh, { songsDir: songs, logsDir: day, findSongsOnThread: true });
    expect(next.loadedFiles.events).toBe(1);
  });
});
