import type { Kysely } from 'kysely';
import { RedshiftAdapter } from './redshift/adapter.js';

/** The kinds of database the warehouse runs on; only DDL options and the staging load differ. */
export type TargetKind = 'postgres' | 'redshift';

/** Which kind of database `db` talks to, read from its dialect's adapter. */
export function targetOf(db: Kysely<any>): TargetKind {
  return db.getExecutor().adapter instanceof RedshiftAdapter ? 'redshift' : 'postgres';
}
