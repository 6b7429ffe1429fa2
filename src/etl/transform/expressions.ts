import { type Expression, sql } from 'kysely';

/**
 * Epoch milliseconds as a UTC timestamp, keeping the milliseconds. Written with `timestamp 'epoch'`
 * arithmetic because both PostgreSQL and Redshift have it (Redshift lacks to_timestamp(double)).
 */
export function timestampFromEpochMillis(ms: Expression<number>) {
  return sql<Date>`(timestamp 'epoch' + ${ms} * interval '1 millisecond')`;
}

/** A date part of a timestamp as an integer; Kysely has no builder for EXTRACT. */
export function datePart(part: 'hour' | 'day' | 'week' | 'month' | 'year' | 'dow', ts: Expression<Date>) {
  return sql<number>`cast(extract(${sql.raw(part)} from ${ts}) as integer)`;
}
