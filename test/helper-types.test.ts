import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  catalogueMatchRate,
  dailyActiveUsers,
  levelSplit,
  playsByDay,
  playsByHour,
  playsByWeekday,
  topArtists,
  topCatalogueSongs,
  topSongs,
  upgradedUsers,
  userActivity,
} from '../src/queries/index.js';
import { openTestWarehouse } from './helpers/db.js';

type Result<F extends (...args: any) => any> = Awaited<ReturnType<F>>;

// Checked by `tsc` (npm test runs it first): each helper's type is exactly what it returns under strict.
describe('helper result types', () => {
  it('say what the helpers return', () => {
    expectTypeOf<Result<typeof topSongs>>().toEqualTypeOf<{ title: string | null; artist_name: string | null; plays: number; song_id: string | null; artist_id: string | null }[]>();
    expectTypeOf<Result<typeof topArtists>>().toEqualTypeOf<{ name: string | null; plays: number; artist_id: string | null }[]>();
    expectTypeOf<Result<typeof topCatalogueSongs>>().toEqualTypeOf<{ song_id: string; title: string | null; artist_name: string | null; plays: number }[]>();
    expectTypeOf<Result<typeof catalogueMatchRate>>().toEqualTypeOf<{ plays: number; matched: number; rate: number }>();
    expectTypeOf<Result<typeof playsByDay>>().toEqualTypeOf<{ year: number; month: number; day: number; plays: number }[]>();
    expectTypeOf<Result<typeof upgradedUsers>>().toEqualTypeOf<{ user_id: number; first_name: string | null; last_name: string | null; upgraded_at: Date }[]>();
    expectTypeOf<Result<typeof playsByHour>>().toEqualTypeOf<({ hour: number } & { plays: number })[]>();
    expectTypeOf<Result<typeof playsByWeekday>>().toEqualTypeOf<({ weekday: number } & { plays: number })[]>();
    expectTypeOf<Result<typeof levelSplit>>().toEqualTypeOf<{ level: string | null; plays: number; users: number }[]>();
    expectTypeOf<Result<typeof dailyActiveUsers>>().toEqualTypeOf<{ year: number; month: number; day: number; users: number }[]>();
    expectTypeOf<Result<typeof userActivity>>().toEqualTypeOf<
      | {
          user_id: number;
          first_name: string | null;
          last_name: string | null;
          gender: string | null;
          level: string | null;
          plays: number;
          matched_plays: number;
          first_play: Date | null;
          last_play: Date | null;
        }
      | undefined
    >();
  });

  it('userActivity of a user with no plays has null first and last plays, as its type says', async () => {
    const { userActivity } = await import('../src/queries/index.js');
    const wh = await openTestWarehouse();
    try {
      await wh.db.insertInto('users').values({ user_id: 7, first_name: 'A', last_name: 'B', gender: 'F', level: 'free', last_seen_at: new Date(0) }).execute();
      const a = await userActivity(wh.db, 7);
      expect(a).toMatchObject({ user_id: 7, plays: 0, matched_plays: 0, first_play: null, last_play: null });
      expect(await userActivity(wh.db, 8)).toBeUndefined();
    } finally {
      await wh.close();
    }
  });
});
