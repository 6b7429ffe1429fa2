import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataFile } from '../src/etl/read/files.js';
import { dropFileList } from '../src/etl/runs/file-list.js';
import { filesToLoad, markLoaded } from '../src/etl/runs/manifest.js';
import { openTestWarehouse } from './helpers/db.js';
import { writeTree } from './helpers/files.js';

// The manifest of loaded files, called directly: which files a run loads. A file is known by its
// path relative to its source directory; size and mtime as loaded tell it is unchanged without
// reading it; the same size with another mtime is read and compared by content (SHA-256).

describe('manifest of loaded files', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let dir: string;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    dir = await writeTree({ 'a.json': '{"a":1}\n', 'b.json': '{"b":2}\n' });
  });
  afterAll(async () => {
    await wh.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => wh.db.deleteFrom('loaded_files').execute());

  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const file = (relPath: string, size: number, mtimeMs: number, hash?: string): DataFile => ({ path: path.join(dir, relPath), relPath, size, mtimeMs, hash });
  // A run's files as staging leaves them in the work tables, then recorded as loaded.
  const mark = async (runId: string, files: { source: 'songs' | 'events'; file: DataFile }[]) => {
    const queue = files.map(({ source, file }, seq) => ({ run_id: runId, source, seq, path: file.relPath, file: file.path, size: file.size, mtime_ms: file.mtimeMs, hash: null }));
    await wh.db.insertInto('etl_file_queue').values(queue).execute();
    const stats = files.map(({ source, file }, seq) => ({ run_id: runId, source, seq, hash: file.hash ?? '', records_read: 0, staged: 0, rejected: 0 }));
    await wh.db.insertInto('etl_file_stats').values(stats).execute();
    await wh.db.transaction().execute(async (trx) => {
      await markLoaded(trx, runId);
      await dropFileList(trx, runId);
    });
  };
  const toLoad = async (source: 'songs' | 'events', files: DataFile[]) => (await filesToLoad(wh.db, source, files)).map((f) => f.relPath);

  it('loads every file of a source it has not loaded', async () => {
    expect(await toLoad('events', [file('a.json', 8, 1000), file('b.json', 8, 1000)])).toEqual(['a.json', 'b.json']);
  });

  it('skips a file with the size and mtime it was loaded with, without reading it', async () => {
    // The recorded hash is not the file's: were the file read, it would count as changed.
    await mark('run-1', [{ source: 'events', file: file('a.json', 8, 1000, 'not-the-hash') }]);
    expect(await toLoad('events', [file('a.json', 8, 1000), file('b.json', 8, 1000)])).toEqual(['b.json']);
  });

  it('loads a file whose size changed, whatever its mtime and hash', async () => {
    await mark('run-1', [{ source: 'events', file: file('a.json', 7, 1000, sha256('{"a":1}\n')) }]);
    expect(await toLoad('events', [file('a.json', 8, 1000)])).toEqual(['a.json']);
  });

  it('same size, new mtime: reads the file, and loads it only if its content differs', async () => {
    await mark('run-1', [
      { source: 'events', file: file('a.json', 8, 1000, sha256('{"a":1}\n')) },
      { source: 'events', file: file('b.json', 8, 1000, sha256('{"b":9}\n')) },
    ]);
    // a.json was touched but holds what was loaded; b.json holds something else.
    expect(await toLoad('events', [file('a.json', 8, 2000), file('b.json', 8, 2000)])).toEqual(['b.json']);
  });

  it('keeps the sources apart: a file loaded as events is new as a song file', async () => {
    await mark('run-1', [{ source: 'events', file: file('a.json', 8, 1000, sha256('{"a":1}\n')) }]);
    expect(await toLoad('songs', [file('a.json', 8, 1000)])).toEqual(['a.json']);
    expect(await toLoad('events', [file('a.json', 8, 1000)])).toEqual([]);
  });

  it('records each file once per source, the latest load replacing the earlier, with run, size, mtime and hash', async () => {
    await mark('run-1', [
      { source: 'events', file: file('a.json', 8, 1000, 'h1') },
      { source: 'songs', file: file('a.json', 5, 500, 'h2') },
      { source: 'events', file: file('b.json', 8, 1000) },
    ]);
    await mark('run-2', [{ source: 'events', file: file('a.json', 9, 3000, 'h3') }]);
    const rows = await wh.db.selectFrom('loaded_files').select(['source', 'path', 'size', 'mtime_ms', 'hash', 'run_id']).orderBy('source').orderBy('path').execute();
    expect(rows).toEqual([
      { source: 'events', path: 'a.json', size: 9, mtime_ms: 3000, hash: 'h3', run_id: 'run-2' },
      { source: 'events', path: 'b.json', size: 8, mtime_ms: 1000, hash: '', run_id: 'run-1' },
      { source: 'songs', path: 'a.json', size: 5, mtime_ms: 500, hash: 'h2', run_id: 'run-1' },
    ]);
    const loadedAt = await wh.db.selectFrom('loaded_files').select('loaded_at').distinct().execute();
    expect(loadedAt).toHaveLength(2);
  });

  it('a run that marks the same path under both sources replaces only its own source', async () => {
    await mark('run-1', [
      { source: 'songs', file: file('x.json', 1, 1, 's') },
      { source: 'events', file: file('x.json', 1, 1, 'e') },
    ]);
    await mark('run-2', [{ source: 'songs', file: file('x.json', 2, 2, 's2') }]);
    const rows = await wh.db.selectFrom('loaded_files').select(['source', 'hash']).orderBy('source').execute();
    expect(rows).toEqual([
      { source: 'events', hash: 'e' },
      { source: 'songs', hash: 's2' },
    ]);
  });
});
