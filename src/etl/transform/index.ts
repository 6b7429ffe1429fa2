import type { Transaction } from 'kysely';
import type { Database, StarTable } from '../../types/database.js';
import { artistsRule } from './artists.js';
import { isEmpty, type UpsertCounts, upsert } from './merge.js';
import { linkLateSongs, songplaysRule } from './songplays.js';
import { songsRule } from './songs.js';
import { timeRule } from './time.js';
import { usersRule } from './users.js';

/** What the transform did to each star table. */
export type TransformCounts = Record<StarTable, UpsertCounts & { linked?: number }>;

/**
 * Loads the star tables from staging, dimensions first so that plays can be matched against the
 * songs this run brought. Runs inside the caller's transaction: all tables change, or none.
 */
export async function transformStaged(
  trx: Transaction<Database>,
  onStep: (table: StarTable) => void = () => {},
): Promise<TransformCounts> {
  const step = async <T extends StarTable>(table: T, run: () => Promise<UpsertCounts>) => {
    onStep(table);
    return run();
  };
  const songs = await step('songs', () => upsert(trx, songsRule));
  const artists = await step('artists', () => upsert(trx, artistsRule));
  const users = await step('users', () => upsert(trx, usersRule));
  // Stryker disable next-line BooleanLiteral: equivalent — set inside the songplays step, before it is read.
  let earlierPlays = false;
  const songplays = await step('songplays', async () => {
    earlierPlays = !(await isEmpty(trx, 'songplays'));
    return upsert(trx, songplaysRule);
  });
  // Only plays of earlier runs can have become matchable, and only if the catalogue changed (this
  // run's plays were matched against it as they were merged); otherwise skip the scan of the fact table.
  // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: equivalent — without earlier plays or a changed catalogue no play can have become matchable, so linking anyway links none.
  const linked = earlierPlays && songs.inserted + songs.updated > 0 ? await linkLateSongs(trx) : 0;
  const time = await step('time', () => upsert(trx, timeRule));
  return { songs, artists, users, songplays: { ...songplays, linked }, time };
}
