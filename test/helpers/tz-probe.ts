// Prints what the helpers and the run bookkeeping answer for one fixed window, under whatever TZ
// this process runs with (test/time-zones.test.ts compares the answers across time zones).
import { loadConfig } from '../../src/config.js';
import { openWarehouse } from '../../src/db/connection.js';
import { finishRun, startRun } from '../../src/etl/runs/runs.js';
import { dailyActiveUsers, playsByHour, topSongs, userActivity } from '../../src/queries/index.js';

const wh = openWarehouse({ config: loadConfig() });
try {
  const from = new Date(Date.UTC(2018, 10, 3, 5));
  const to = new Date(Date.UTC(2018, 10, 4, 5));
  const runId = process.argv[2]!;
  const started = new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678));
  await startRun(wh.db, runId, {});
  await wh.db.updateTable('etl_runs').set({ started_at: started }).where('run_id', '=', runId).execute();
  await finishRun(wh.db, runId, 'failed', []);
  const run = await wh.db.selectFrom('etl_runs').select(['started_at']).where('run_id', '=', runId).executeTakeFirstOrThrow();
  const busiest = await wh.db.selectFrom('songplays').select('user_id').where('user_id', 'is not', null).orderBy('start_time').limit(1).executeTakeFirstOrThrow();
  console.log(
    JSON.stringify({
      hours: await playsByHour(wh.db, { from, to }),
      top: await topSongs(wh.db, { from, to, limit: 3 }),
      days: await dailyActiveUsers(wh.db, { from, to }),
      activity: await userActivity(wh.db, busiest.user_id!),
      startedAt: run.started_at.toISOString(),
      startedAtStored: (await wh.db.selectFrom('etl_runs').select((eb) => eb.fn<string>('to_char', ['started_at', eb.val('YYYY-MM-DD HH24:MI:SS.MS')]).as('s')).where('run_id', '=', runId).executeTakeFirstOrThrow()).s,
    }),
  );
} finally {
  await wh.destroy();
}
