import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingWarehouse } from '../src/db/recording.js';
import { type Check, catalogueMatch, CheckFailedError, type CheckResult, failures, LOW_MATCH_RATE, runChecks, WAREHOUSE_CHECKS } from '../src/etl/checks.js';
import type { Database } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';

// Each data-quality check on rows written by hand. The warehouse's keys and NOT NULLs are dropped
// here (as on Redshift, where they are informational) so that the checks PostgreSQL's constraints
// would otherwise make vacuous can see broken rows. Every test rolls back what it wrote.

const T = (minute: number) => new Date(Date.UTC(2018, 10, 5, 10, minute));
const TS = (minute: number) => T(minute).getTime();

describe('data-quality checks, one by one', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    const constraints = await sql<{ t: string; c: string }>`
      select rel.relname as t, con.conname as c from pg_constraint con join pg_class rel on rel.oid = con.conrelid
      where rel.relname in ('songs', 'artists', 'users', 'time', 'songplays') and con.contype in ('p', 'u')`.execute(wh.db);
    for (const { t, c } of constraints.rows) await sql`alter table ${sql.table(t)} drop constraint ${sql.ref(c)}`.execute(wh.db);
    const indexes = await sql<{ i: string }>`select indexname as i from pg_indexes where tablename in ('songs', 'artists', 'users', 'time', 'songplays') and indexdef like 'CREATE UNIQUE%'`.execute(wh.db);
    for (const { i } of indexes.rows) await sql`drop index ${sql.ref(i)}`.execute(wh.db);
    for (const [t, c] of [['songs', 'song_id'], ['artists', 'artist_id'], ['users', 'user_id'], ['time', 'start_time'], ['songplays', 'start_time'], ['songplays', 'session_id'], ['songplays', 'item_in_session']]) {
      await sql`alter table ${sql.table(t!)} alter column ${sql.ref(c!)} drop not null`.execute(wh.db);
    }
  });
  afterAll(() => wh.close());

  /** Writes rows in a transaction, runs the checks there, rolls back; the results by check name. */
  async function checked(write: (trx: Transaction<Database>) => Promise<void>, scope: 'all' | 'run' = 'all', checks: readonly Check[] = WAREHOUSE_CHECKS, options: Parameters<typeof runChecks>[3] = {}) {
    let results: CheckResult[] = [];
    await wh.db
      .transaction()
      .execute(async (trx) => {
        await write(trx);
        results = await runChecks(trx, checks, scope, options);
        throw new Error('roll back');
      })
      .catch((e: Error) => expect(e.message).toBe('roll back'));
    return results;
  }
  /** The checks that found offending rows: name → count (warnings included). */
  const offending = (results: CheckResult[]) => Object.fromEntries(results.filter((r) => r.offending).map((r) => [r.name, r.offending]));

  /** A consistent warehouse: two songs and artists, two users, three plays (two matched), their times. */
  async function good(trx: Transaction<Database>) {
    await trx.insertInto('songs').values([
      { song_id: 'SO1', title: 'A', artist_id: 'AR1', artist_name: 'X', year: null, duration: 1 },
      { song_id: 'SO2', title: 'B', artist_id: 'AR2', artist_name: 'Y', year: null, duration: 2 },
    ]).execute();
    await trx.insertInto('artists').values([
      { artist_id: 'AR1', name: 'X', location: null, latitude: null, longitude: null, source_song_id: 'SO1' },
      { artist_id: 'AR2', name: 'Y', location: null, latitude: null, longitude: null, source_song_id: 'SO2' },
    ]).execute();
    await trx.insertInto('users').values([1, 2].map((user_id) => ({ user_id, first_name: null, last_name: null, gender: null, level: 'free', last_seen_at: T(0) }))).execute();
    await trx.insertInto('time').values([0, 1, 2].map((m) => ({ start_time: T(m), hour: 10, day: 5, week: 45, month: 11, year: 2018, weekday: 1 }))).execute();
    await trx.insertInto('songplays').values([
      play(0, 1, 'SO1', 'AR1'),
      play(1, 2, 'SO2', 'AR2'),
      play(2, null, null, null),
    ]).execute();
  }
  const play = (minute: number, user_id: number | null, song_id: string | null, artist_id: string | null, session_id = 9, item_in_session = minute) => ({
    start_time: T(minute), user_id, level: 'free', song_id, artist_id, session_id, item_in_session, location: null, user_agent: null, song_title: null, artist_name: null, song_length: null,
  });
  const staged = (minute: number, page = 'NextSong', session_id = 9, item_in_session = minute) => ({ page, ts: TS(minute), session_id, item_in_session, user_id: '1' });

  it('an empty warehouse fails nothing: each table warns that it has no rows', async () => {
    const results = await checked(async () => {});
    expect(offending(results)).toEqual({ 'songs: has rows': 1, 'artists: has rows': 1, 'users: has rows': 1, 'songplays: has rows': 1, 'time: has rows': 1 });
    expect(results.filter((r) => r.offending).map((r) => r.severity)).toEqual(Array(5).fill('warn'));
    expect(failures(results)).toEqual([]);
  });

  it('a consistent warehouse passes every check', async () => {
    const results = await checked(good);
    expect(offending(results)).toEqual({});
    expect(results.every((r) => r.passed)).toBe(true);
    expect(results).toHaveLength(21);
  });

  it('a NULL key is counted per table, and any NULL key column of songplays counts once per row', async () => {
    const results = await checked(async (trx) => {
      await good(trx);
      await trx.insertInto('songs').values({ song_id: null as never, title: 'N', artist_id: 'AR1', artist_name: 'X', year: null, duration: 1 }).execute();
      await trx.insertInto('users').values({ user_id: null as never, first_name: null, last_name: null, gender: null, level: null, last_seen_at: T(0) }).execute();
      await trx.insertInto('time').values({ start_time: null as never, hour: 1, day: 1, week: 1, month: 1, year: 1, weekday: 1 }).execute();
      await trx.insertInto('songplays').values([{ ...play(0, 1, null, null), session_id: null as never, item_in_session: null as never }, { ...play(1, 1, null, null, 7), item_in_session: null as never }]).execute();
    });
    expect(offending(results)).toEqual({
      'songs: song_id not null': 1,
      'users: user_id not null': 1,
      'time: start_time not null': 1,
      'songplays: songplay_id, start_time, session_id, item_in_session not null': 2,
      // 2 of 5 plays matched: a warning, not a failure.
      'songplays: at least 50% matched to the song catalogue': 3,
    });
    expect(failures(results).map((r) => r.name)).toHaveLength(4);
  });

  it('duplicate keys are counted as keys that repeat, not as rows', async () => {
    const results = await checked(async (trx) => {
      await good(trx);
      await trx.insertInto('users').values([1, 1, 2].map((user_id) => ({ user_id, first_name: null, last_name: null, gender: null, level: 'paid', last_seen_at: T(0) }))).execute();
      await trx.insertInto('artists').values({ artist_id: 'AR1', name: 'Z', location: null, latitude: null, longitude: null, source_song_id: 'SO1' }).execute();
      // The same (start_time, session, item) twice; the same start_time in another session is not a duplicate.
      await trx.insertInto('songplays').values([play(0, 1, 'SO1', 'AR1'), play(0, 1, 'SO1', 'AR1', 3)]).execute();
    });
    expect(offending(results)).toEqual({
      'users: user_id unique': 2,
      'artists: artist_id unique': 1,
      'songplays: start_time, session_id, item_in_session unique': 1,
    });
  });

  it('a play whose user, time, song or artist is missing is an orphan; a NULL reference is not', async () => {
    const results = await checked(async (trx) => {
      await good(trx);
      await trx.insertInto('songplays').values([play(5, 3, 'SO1', 'AR1'), play(6, 4, 'SO9', 'AR9'), play(7, null, null, 'AR8')]).execute();
    });
    expect(offending(results)).toEqual({
      'songplays.user_id → users': 2,
      'songplays.start_time → time': 3,
      'songplays.song_id → songs': 1,
      'songplays.artist_id → artists': 2,
    });
  });

  it('every staged NextSong event has its play (same session, item and time); other pages need none', async () => {
    const stage = (trx: Transaction<Database>, rows: ReturnType<typeof staged>[]) => trx.insertInto('staging_events').values(rows).execute();
    const found = async (rows: ReturnType<typeof staged>[], scope: 'all' | 'run') =>
      offending(await checked(async (trx) => {
        await good(trx);
        await stage(trx, rows);
      }, scope))['staging_events NextSong → songplays'] ?? 0;
    const ok = [staged(0), staged(1), staged(2), staged(3, 'Home')];
    for (const scope of ['all', 'run'] as const) {
      expect(await found(ok, scope)).toBe(0);
      // Another minute, another session or another item: no such play.
      expect(await found([...ok, staged(4), staged(0, 'NextSong', 8), staged(1, 'NextSong', 9, 5)], scope)).toBe(3);
    }
  });

  it("scoped to the run, orphans are counted among the staged plays only", async () => {
    const results = await checked(async (trx) => {
      await good(trx);
      await trx.insertInto('songplays').values([play(5, 3, null, null), play(6, 4, null, null)]).execute();
      await trx.insertInto('time').values([5, 6].map((m) => ({ start_time: T(m), hour: 10, day: 5, week: 45, month: 11, year: 2018, weekday: 1 }))).execute();
      await trx.insertInto('staging_events').values([staged(6), staged(6), staged(0), staged(1)]).execute();
    }, 'run');
    // Staged twice, one play: counted once. The play at minute 5 is not this run's. (The catalogue
    // warning judges every play: 2 of 5 matched.)
    expect(offending(results)).toEqual({ 'songplays.user_id → users': 1, 'songplays: at least 50% matched to the song catalogue': 3 });
  });

  it(`warns when fewer than ${LOW_MATCH_RATE * 100}% of plays match the catalogue, counting the unmatched`, async () => {
    const name = 'songplays: at least 50% matched to the song catalogue';
    const rate = async (matched: number, unmatched: number) =>
      (await checked(async (trx) => {
        await good(trx);
        await trx.deleteFrom('songplays').execute();
        const plays = [...Array(matched)].map((_, i) => play(i % 3, 1, 'SO1', 'AR1', 20 + i)).concat([...Array(unmatched)].map((_, i) => play(i % 3, 1, null, null, 40 + i)));
        if (plays.length) await trx.insertInto('songplays').values(plays).execute();
      })).find((r) => r.name === name)!;
    expect(await rate(1, 3)).toMatchObject({ offending: 3, severity: 'warn', passed: false });
    expect(await rate(2, 2)).toMatchObject({ offending: 0, passed: true });
    expect(await rate(0, 1)).toMatchObject({ offending: 1 });
    expect(await rate(3, 0)).toMatchObject({ offending: 0 });
  });

  it('scoped to the run too, the catalogue warning judges every play, or takes the rate the caller measured', async () => {
    const name = 'songplays: at least 50% matched to the song catalogue';
    // good(): 2 of 3 plays matched. Staged: only the unmatched one, twice: still 2 of 3 in the warehouse.
    const run = async (measured?: { plays: number; matched: number }) =>
      (await checked(async (trx) => {
        await good(trx);
        await trx.insertInto('staging_events').values([staged(2), staged(2)]).execute();
      }, 'run', WAREHOUSE_CHECKS, { measured: measured && { catalogue: measured } })).find((r) => r.name === name)!;
    expect(await run()).toMatchObject({ offending: 0, passed: true });
    // A rate measured already is taken as it is: 1 of 10 matched leaves 9 unmatched.
    expect(await run({ plays: 10, matched: 1 })).toMatchObject({ offending: 9, passed: false, severity: 'warn' });
    expect(await run({ plays: 0, matched: 0 })).toMatchObject({ offending: 0 });
    // Called by itself, without measurements, it measures (the warehouse outside the test's transactions has no plays).
    expect(await catalogueMatch.offending(wh.db)).toBe(0);
  });

  it('scoped to the run, a dimension key present twice (as Redshift allows) counts each orphaned play once', async () => {
    const orphans = async (duplicate: (trx: Transaction<Database>) => Promise<unknown>) =>
      offending(await checked(async (trx) => {
        await good(trx);
        // Minute 5's play: user 3 does not exist, nor a time row for minute 5; its song and artist do.
        await trx.insertInto('songplays').values(play(5, 3, 'SO1', 'AR1')).execute();
        await duplicate(trx);
        await trx.insertInto('staging_events').values([staged(0), staged(5)]).execute();
      }, 'run', WAREHOUSE_CHECKS.filter((c) => c.run)));
    const expected = { 'songplays.user_id → users': 1, 'songplays.start_time → time': 1 };
    expect(await orphans(async () => {})).toEqual(expected);
    // Its song and artist twice each: the play joins four times over, and still counts once.
    expect(
      await orphans(async (trx) => {
        await trx.insertInto('songs').values({ song_id: 'SO1', title: 'A', artist_id: 'AR1', artist_name: 'X', year: null, duration: 1 }).execute();
        await trx.insertInto('artists').values({ artist_id: 'AR1', name: 'X', location: null, latitude: null, longitude: null, source_song_id: 'SO1' }).execute();
      }),
    ).toEqual(expected);
  });

  it('scoped to the run, orphans of every kind count once per play', async () => {
    const found = offending(await checked(async (trx) => {
      await good(trx);
      // No time rows for minutes 5–7; user 3 and 4, song SO9, artists AR9 and AR8 do not exist.
      await trx.insertInto('songplays').values([play(5, 3, 'SO1', 'AR1'), play(6, 4, 'SO9', 'AR9'), play(7, null, null, 'AR8')]).execute();
      await trx.insertInto('staging_events').values([staged(5), staged(6), staged(6), staged(7), staged(0)]).execute();
    }, 'run', WAREHOUSE_CHECKS.filter((c) => c.run)));
    // Minute 6 staged twice is one play; minute 0's play is whole.
    expect(found).toEqual({ 'songplays.user_id → users': 2, 'songplays.start_time → time': 3, 'songplays.song_id → songs': 1, 'songplays.artist_id → artists': 2 });
  });

  it('a run rule of its own counted per play needs no dimension: copies of one play count once, an event that became no play not at all', async () => {
    // Plays without a song: in the whole warehouse by `offending`, among the staged plays by `run`.
    const songless: Check = {
      name: 'plays without a song',
      offending: async (db) => Number((await db.selectFrom('songplays').where('song_id', 'is', null).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n),
      run: { offends: (eb) => eb('f.song_id', 'is', null), perPlay: true },
    };
    const found = async (minutes: number[], scope: 'all' | 'run') =>
      (await checked(async (trx) => {
        await good(trx);
        await trx.insertInto('songplays').values(play(5, 1, null, null)).execute();
        if (minutes.length) await trx.insertInto('staging_events').values(minutes.map((m) => staged(m))).execute();
      }, scope, [songless]))[0]!.offending;
    // good() plus minute 5: the plays at minutes 2 and 5 have no song.
    expect(await found([0, 2, 2, 9], 'all')).toBe(2);
    // Staged: minute 2 twice (one play), minute 9 (no play), minute 0 (has its song).
    expect(await found([0, 2, 2, 9], 'run')).toBe(1);
    expect(await found([0, 2, 5, 5], 'run')).toBe(2);
    expect(await found([0, 1, 9], 'run')).toBe(0);
  });
});

describe('check bookkeeping', () => {
  it('PostgreSQL enforces exactly the NOT NULL and unique checks', () => {
    expect(WAREHOUSE_CHECKS.filter((c) => c.enforcedByPostgres).map((c) => c.name)).toEqual([
      'songs: song_id not null',
      'artists: artist_id not null',
      'users: user_id not null',
      'time: start_time not null',
      'songplays: songplay_id, start_time, session_id, item_in_session not null',
      'songs: song_id unique',
      'artists: artist_id unique',
      'users: user_id unique',
      'time: start_time unique',
      'songplays: start_time, session_id, item_in_session unique',
    ]);
  });

  it('failures are the failed checks of severity error; CheckFailedError names each', () => {
    const results: CheckResult[] = [
      { name: 'a', severity: 'error', offending: 2, passed: false },
      { name: 'b', severity: 'warn', offending: 1, passed: false },
      { name: 'c', severity: 'error', offending: 0, passed: true },
      { name: 'd', severity: 'error', offending: 5, passed: false },
    ];
    expect(failures(results).map((r) => r.name)).toEqual(['a', 'd']);
    const error = new CheckFailedError(results);
    expect(error.name).toBe('CheckFailedError');
    expect(error.message).toBe('Data-quality checks failed:\n  a: 2 offending row(s)\n  d: 5 offending row(s)');
    expect(error.results).toBe(results);
  });

  it('against a warehouse that answers no rows (sparkify plan records the statements), the run checks find nothing and send one count for every run rule', async () => {
    const rec = recordingWarehouse({ home: '', songsDir: '', logsDir: '' });
    const results = await runChecks(rec.db, WAREHOUSE_CHECKS, 'run');
    expect(results.map((r) => r.name)).toEqual(WAREHOUSE_CHECKS.map((c) => c.name));
    // Only the tables' "has rows" warnings: no row came back.
    expect(results.filter((r) => r.offending).map((r) => [r.name, r.offending])).toEqual(['songs', 'artists', 'users', 'songplays', 'time'].map((t) => [`${t}: has rows`, 1]));
    const counts = rec.statements.filter((s) => s.sql.includes('"staging_events"'));
    expect(counts).toHaveLength(1);
    expect(counts[0]!.sql.match(/count\(case when/g)).toHaveLength(WAREHOUSE_CHECKS.filter((c) => c.run).length);
    // The checks without a run rule (not null, unique, has rows) each send their own query.
    expect(rec.statements).toHaveLength(1 + WAREHOUSE_CHECKS.filter((c) => !c.run).length);
  });
});
