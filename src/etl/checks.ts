import { type AliasedExpression, type Kysely, sql } from 'kysely';
import { type Database, STAR_TABLES, type StarTable } from '../types/database.js';
import { timestampFromEpochMillis } from './transform/expressions.js';

/** A data-quality check: passes when it finds no offending rows. */
export interface Check {
  name: string;
  /** 'warn' checks are reported but never fail a run (e.g. a warehouse that has no songs yet). */
  severity?: 'error' | 'warn';
  /** PostgreSQL's constraints already guarantee the rule (Redshift's do not): the ETL skips it there. */
  enforcedByPostgres?: boolean;
  /** Counts the rows that break the rule: among all rows, or (scope 'run', within runChecks) the plays now in staging. */
  offending(db: Kysely<Database>, scope?: CheckScope): Promise<number>;
}

/** 'all' checks the whole warehouse; 'run' only the plays the current run staged, so a run's cost follows its size. */
export type CheckScope = 'all' | 'run';

export interface CheckResult {
  name: string;
  severity: 'error' | 'warn';
  offending: number;
  passed: boolean;
}

/** A check failed; the warehouse transaction it ran in is rolled back. */
export class CheckFailedError extends Error {
  override name = 'CheckFailedError';
  constructor(readonly results: CheckResult[]) {
    const failed = failures(results).map((r) => `  ${r.name}: ${r.offending} offending row(s)`);
    super(`Data-quality checks failed:\n${failed.join('\n')}`);
  }
}

// Stryker disable next-line OptionalChaining: equivalent — an aggregate without GROUP BY always returns one row.
const count = (n: { n: number | string } | undefined) => Number(n?.n ?? 0);

function uniqueKey(table: StarTable, columns: string[]): Check {
  return {
    name: `${table}: ${columns.join(', ')} unique`,
    enforcedByPostgres: true,
    async offending(db) {
      const dupes = await (db as Kysely<any>)
        .selectFrom((sub) =>
          sub
            .selectFrom(table)
            .select(columns)
            .groupBy(columns)
            .having((eb) => eb.fn.countAll(), '>', sql.lit(1))
            .as('d'),
        )
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst();
      return count(dupes);
    },
  };
}

function notNull(table: StarTable, columns: string[]): Check {
  return {
    name: `${table}: ${columns.join(', ')} not null`,
    enforcedByPostgres: true,
    async offending(db) {
      const rows = await (db as Kysely<any>)
        .selectFrom(table)
        .where((eb) => eb.or(columns.map((c) => eb(c, 'is', null))))
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst();
      return count(rows);
    },
  };
}

function nonEmpty(table: StarTable): Check {
  return {
    name: `${table}: has rows`,
    severity: 'warn',
    async offending(db) {
      const row = await (db as Kysely<any>).selectFrom(table).select(sql<number>`1`.as('one')).limit(1).executeTakeFirst();
      return row ? 0 : 1;
    },
  };
}

/**
 * The staged NextSong events with the play each became (its columns null where none did): what
 * the run-scoped checks read, gathered by runChecks into RUN_PLAYS in one join so that no check
 * scans the fact table.
 */
function stagedPlays(db: Kysely<Database>) {
  return db
    .selectFrom('staging_events as e')
    .leftJoin('songplays as f', (join) =>
      join
        .onRef('f.session_id', '=', 'e.session_id')
        .onRef('f.item_in_session', '=', 'e.item_in_session')
        .on('f.start_time', '=', timestampFromEpochMillis(sql.ref('e.ts'))),
    )
    .where('e.page', '=', sql.lit('NextSong'))
    .select(['f.songplay_id', 'f.start_time', 'f.user_id', 'f.song_id', 'f.artist_id']);
}

const RUN_PLAYS = 'run_songplays';

/** Gathers the staged plays into RUN_PLAYS. */
async function gatherRunPlays(db: Kysely<Database>): Promise<void> {
  await db.schema.dropTable(RUN_PLAYS).ifExists().execute();
  await db.schema.createTable(RUN_PLAYS).temporary().as(stagedPlays(db)).execute();
}

function reference(column: 'user_id' | 'start_time' | 'song_id' | 'artist_id', parent: StarTable): Check {
  return {
    name: `songplays.${column} → ${parent}`,
    // Stryker disable next-line StringLiteral: equivalent — callers always pass a scope, and any scope but 'run' means all.
    // Stryker disable next-line StringLiteral: equivalent — callers always pass a scope, and any scope but 'run' means all.
  async offending(db, scope = 'all') {
      const orphans = await (db as Kysely<any>)
        .selectFrom(`${scope === 'run' ? RUN_PLAYS : 'songplays'} as f`)
        .leftJoin(`${parent} as p`, `p.${column}`, `f.${column}`)
        .where(`f.${column}`, 'is not', null)
        .where(`p.${column}`, 'is', null)
        // Distinct plays: an event staged twice (overlapping files) is one play.
        .select((eb) => eb.fn.count<number>('f.songplay_id').distinct().as('n'))
        .executeTakeFirst();
      return count(orphans);
    },
  };
}

/** Every staged NextSong event has its songplay: nothing staged was dropped on the way. */
export const stagedPlaysLoaded: Check = {
  name: 'staging_events NextSong → songplays',
  // Stryker disable next-line StringLiteral: equivalent — callers always pass a scope, and any scope but 'run' means all.
  async offending(db, scope = 'all') {
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent — RUN_PLAYS is stagedPlays materialized; reading either gives the same count.
    const plays: AliasedExpression<unknown, 'f'> = scope === 'run' ? sql.table(RUN_PLAYS).as('f') : stagedPlays(db).as('f');
    const missing = await (db as Kysely<any>)
      .selectFrom(plays)
      .where('songplay_id', 'is', null)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return count(missing);
  },
};

/** Below this share of plays matched to the song catalogue, catalogue-based answers miss most listening. */
export const LOW_MATCH_RATE = 0.5;

/**
 * A warning when few plays match the song catalogue (on the real sample, 1 of 6,820): answers that
 * join songs or artists then describe a sliver of the listening. Offending: the unmatched plays
 * (of the run's plays in scope 'run'), counted only when the rate is below LOW_MATCH_RATE.
 */
export const catalogueMatch: Check = {
  name: `songplays: at least ${LOW_MATCH_RATE * 100}% matched to the song catalogue`,
  severity: 'warn',
  // Stryker disable next-line StringLiteral: equivalent — callers always pass a scope, and any scope but 'run' means all.
  async offending(db, scope = 'all') {
    const table = scope === 'run' ? RUN_PLAYS : 'songplays';
    const row = await (db as Kysely<any>)
      .selectFrom(table)
      .select((eb) => [eb.fn.countAll<number>().as('plays'), eb.fn.count<number>('song_id').as('matched')])
      .executeTakeFirst();
    // Stryker disable next-line OptionalChaining: equivalent — an aggregate without GROUP BY always returns one row.
    const plays = Number(row?.plays ?? 0);
    // Stryker disable next-line OptionalChaining: equivalent — as above.
    const matched = Number(row?.matched ?? 0);
    return plays && matched / plays < LOW_MATCH_RATE ? plays - matched : 0;
  },
};

/** The checks the ETL runs before it commits, and `sparkify check` runs on demand. */
export const WAREHOUSE_CHECKS: readonly Check[] = [
  notNull('songs', ['song_id']),
  notNull('artists', ['artist_id']),
  notNull('users', ['user_id']),
  notNull('time', ['start_time']),
  notNull('songplays', ['songplay_id', 'start_time', 'session_id', 'item_in_session']),
  uniqueKey('songs', ['song_id']),
  uniqueKey('artists', ['artist_id']),
  uniqueKey('users', ['user_id']),
  uniqueKey('time', ['start_time']),
  uniqueKey('songplays', ['start_time', 'session_id', 'item_in_session']),
  reference('user_id', 'users'),
  reference('start_time', 'time'),
  reference('song_id', 'songs'),
  reference('artist_id', 'artists'),
  stagedPlaysLoaded,
  catalogueMatch,
  ...STAR_TABLES.map(nonEmpty),
];

/** The results that fail a run: failed checks of severity 'error'. */
export function failures(results: CheckResult[]): CheckResult[] {
  return results.filter((r) => !r.passed && r.severity === 'error');
}

/** Runs checks in order and returns every result. */
// Stryker disable next-line StringLiteral: equivalent — any scope but 'run' means all.
export async function runChecks(db: Kysely<Database>, checks: readonly Check[] = WAREHOUSE_CHECKS, scope: CheckScope = 'all'): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  // Stryker disable next-line ConditionalExpression: equivalent — gathering RUN_PLAYS in scope 'all' only makes a temporary table nothing reads.
  if (scope === 'run') await gatherRunPlays(db);
  for (const check of checks) {
    const offending = await check.offending(db, scope);
    results.push({ name: check.name, severity: check.severity ?? 'error', offending, passed: offending === 0 });
  }
  if (scope === 'run') await db.schema.dropTable(RUN_PLAYS).execute();
  return results;
}
