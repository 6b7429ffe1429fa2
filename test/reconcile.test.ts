import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dropFileList } from '../src/etl/runs/file-list.js';
import { ReconciliationError, reconcileStaging } from '../src/etl/stage/reconcile.js';
import { openTestWarehouse } from './helpers/db.js';

// The run's work tables and staging set up by hand, as staging would leave them, then broken one way
// at a time: what reconcileStaging reports is written out from the rows put in.

const RUN = 'run-1';

describe('reconcileStaging', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
  });
  afterAll(() => wh.close());

  /** Queues `file` for the run with the counts staging reported, and stages `rows` rows from it. */
  async function staged(source: 'songs' | 'events', seq: number, file: string, counts: { read: number; staged: number; rejected: number }, rows: number) {
    await wh.db.insertInto('etl_file_queue').values({ run_id: RUN, source, seq, path: file, file: `/data/${file}`, size: 1, mtime_ms: 0, hash: null }).execute();
    await wh.db
      .insertInto('etl_file_stats')
      .values({ run_id: RUN, source, seq, hash: 'h', records_read: counts.read, staged: counts.staged, rejected: counts.rejected })
      .execute();
    await stage(source, `/data/${file}`, rows);
  }

  /** Stages `rows` rows from `file` (a file the run may not have queued). */
  async function stage(source: 'songs' | 'events', file: string, rows: number) {
    for (let line = 1; line <= rows; line++) {
      if (source === 'songs') await wh.db.insertInto('staging_songs').values({ artist_id: 'A', song_id: `S${line}`, source_file: file, source_line: line }).execute();
      else await wh.db.insertInto('staging_events').values({ page: 'Home', ts: line, source_file: file, source_line: line }).execute();
    }
  }

  const failure = () =>
    reconcileStaging(wh.db, RUN).then(
      () => undefined,
      (error: unknown) => {
        expect(error).toBeInstanceOf(ReconciliationError);
        return (error as Error).message.split('\n').slice(1).map((l) => l.trim());
      },
    );

  beforeEach(async () => {
    await dropFileList(wh.db);
    await wh.db.deleteFrom('staging_songs').execute();
    await wh.db.deleteFrom('staging_events').execute();
    await staged('songs', 0, 'a.json', { read: 1, staged: 1, rejected: 0 }, 1);
    await staged('events', 0, 'day1.json', { read: 3, staged: 2, rejected: 1 }, 2);
  });

  it('passes when every file read = staged + rejected and staging holds its staged rows', async () => {
    expect(await failure()).toBeUndefined();
  });

  it('names a file whose counts do not add up, and one whose rows staging does not hold', async () => {
    await staged('events', 1, 'day2.json', { read: 5, staged: 2, rejected: 1 }, 2);
    await staged('songs', 1, 'b.json', { read: 1, staged: 1, rejected: 0 }, 0);
    await staged('events', 2, 'day3.json', { read: 4, staged: 4, rejected: 1 }, 3);
    expect(await failure()).toEqual([
      '/data/b.json: staged 1 records but staging_songs holds 0',
      '/data/day2.json: read 5 ≠ staged 2 + rejected 1',
      '/data/day3.json: read 4 ≠ staged 4 + rejected 1',
      '/data/day3.json: staged 4 records but staging_events holds 3',
    ]);
  });

  it('names rows from a file the run did not stage', async () => {
    await stage('events', '/data/stray.json', 2);
    expect(await failure()).toEqual(['staging_events holds 2 rows from /data/stray.json, which this run did not stage']);
  });
});
