import type { Kysely } from 'kysely';
import { listRuns } from '../etl/runs/runs.js';
import {
  catalogueMatchRate,
  dailyActiveUsers,
  levelSplit,
  type PeriodOptions,
  playsIn,
  playsByDay,
  playsByHour,
  playsByWeekday,
  topArtists,
  topSongs,
  upgradedUsers,
} from '../queries/index.js';
import type { Database } from '../types/database.js';

/** Everything the report page shows, gathered with the analysts' helpers. */
export async function reportData(db: Kysely<Database>, period: PeriodOptions = {}) {
  const runs = await listRuns(db, 5);
  const rejected = await db.selectFrom('load_errors').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  const listeners = await playsIn(db, period).select((eb) => eb.fn.count<number>('p.user_id').distinct().as('n')).executeTakeFirst();
  return {
    generatedAt: new Date().toISOString(),
    period: { from: period.from?.toISOString() ?? null, to: period.to?.toISOString() ?? null },
    byDay: await playsByDay(db, period),
    byHour: await playsByHour(db, period),
    byWeekday: await playsByWeekday(db, period),
    topSongs: await topSongs(db, { ...period, limit: 10 }),
    topArtists: await topArtists(db, { ...period, limit: 10 }),
    levels: await levelSplit(db, period),
    upgraded: await upgradedUsers(db, period),
    activeUsers: await dailyActiveUsers(db, period),
    catalogue: await catalogueMatchRate(db, period),
    listeners: Number(listeners?.n ?? 0),
    health: { runs, rejectedRecords: Number(rejected?.n ?? 0) },
  };
}

/** The report's data, as the page embeds it. */
export type ReportData = Awaited<ReturnType<typeof reportData>>;
