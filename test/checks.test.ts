import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failures, runChecks, WAREHOUSE_CHECKS } from '../src/etl/checks.js';
import { runEtl } from '../src/etl/pipeline.js';
import { walkDataFiles } from '../src/etl/read/files.js';
import { stageLocalFiles } from '../src/etl/stage/postgres.js';
import { EVENT_SOURCE } from '../src/types/raw.js';
import { openTestWarehouse } from './helpers/db.js';
import { event, writeTree } from './helpers/files.js';

const T0 = Date.UTC(2018, 10, 5, 10, 0, 0, 250);
const play = (userId: string, item: number, ts: number) => event({ userId, page: 'NextSong', song: 'S', artist: 'A', length: 1, itemInSession: item, sessionId: 9, ts });

/** The offending counts by check name, for the checks that fail (not the warnings: this load has no songs). */
const found = (results: Awaited<ReturnType<typeof runChecks>>) => Object.fromEntries(failures(results).map((r) => [r.name, r.offending]));

describe('data-quality checks scoped to a run', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    const songs = await writeTree({});
    // An older run: user 1's plays. The run now in staging: user 2's three plays.
    await runEtl(wh, { songsDir: songs, logsDir: await writeTree({ 'a.json': play('1', 0, T0) }) });
    const logs = await writeTree({ 'b.json': [1, 2, 3].map((i) => play('2', i, T0 + i * 1000)).join('\n') });
    await runEtl(wh, { songsDir: songs, logsDir: logs });
    // A run empties staging once it commits: stage its files again, as they were while it checked.
    await stageLocalFiles(await wh.pool(), [{ source: EVENT_SOURCE, pages: walkDataFiles(logs, 'logs'), largeBytes: 0 }], { maxErrors: 0 });
  });
  afterAll(() => wh.close());

  it('pass on a good load, in either scope', async () => {
    expect(found(await runChecks(wh.db, WAREHOUSE_CHECKS, 'run'))).toEqual({});
    expect(found(await runChecks(wh.db, WAREHOUSE_CHECKS, 'all'))).toEqual({});
  });

  it("see breakage in the run's plays, and only there when scoped to the run", async () => {
    let left = 0;
    const results = { run: {}, all: {} };
    await wh.db
      .transaction()
      .execute(async (trx) => {
        // Break the run: one staged play lost, the run's user gone. Break the older run: its user gone.
        const runPlays = await trx.selectFrom('songplays').select('songplay_id').where('user_id', '=', 2).orderBy('songplay_id').execute();
        await trx.deleteFrom('songplays').where('songplay_id', '=', runPlays[0]!.songplay_id).execute();
        await trx.deleteFrom('users').execute();
        left = runPlays.length - 1;
        results.run = found(await runChecks(trx, WAREHOUSE_CHECKS, 'run'));
        results.all = found(await runChecks(trx, WAREHOUSE_CHECKS, 'all'));
        throw new Error('undo');
      })
      .catch((e: Error) => expect(e.message).toBe('undo'));
    expect(left).toBe(2);
    expect(results.run).toEqual({ 'songplays.user_id → users': left, 'staging_events NextSong → songplays': 1 });
    expect(results.all).toEqual({ 'songplays.user_id → users': left + 1, 'staging_events NextSong → songplays': 1 });
  });
});
