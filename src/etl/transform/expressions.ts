import { type Expression, sql } from 'kysely';

/**
 * Epoch milliseconds as a UTC timestamp, keeping the milliseconds. Written with `timestamp 'epoch'`
 * arithmetic because both PostgreSQL and Redshift have it (Redshift lacks to_timestamp(double)).
 */
export function timestampFromEpochMillis(ms: Expression<number>) {
  return sql<Date>`(timestamp 'epoch' + ${ms} * interval '1 millisecond')`;
}

/**
 * A date part of a timestamp as an integer (Kysely has no builder for it). DATE_PART, not EXTRACT:
 * PostgreSQL's EXTRACT returns numeric, and casting 775k of those cost 0.3 s more than DATE_PART's
 * double; Redshift has both (https://docs.aws.amazon.com/redshift/latest/dg/r_DATE_PART_function.html).
 */
export function datePart(part: 'hour' | 'day' | 'week' | 'month' | 'year' | 'dow', ts: Expression<Date>) {
  return sql<number>`cast(date_part(${sql.lit(part)}, ${ts}) as integer)`;
}

/**
 * Orders a de-duplicating window by record content, every listed column descending, after whatever
 * order the rule sets first: which duplicate wins then depends on nothing but the records, the same
 * on every target and whatever order the files were read in (COPY from S3 fills no file or line).
 * Strings compare bytewise on Redshift and on the embedded server (locale C); NULLs sort first in
 * descending order on both (https://docs.aws.amazon.com/redshift/latest/dg/r_ORDER_BY_clause.html).
 */
export function byContent<O extends { orderBy(ref: never, direction: 'desc'): O }>(over: O, columns: readonly string[]): O {
  return columns.reduce((o, c) => o.orderBy(c as never, 'desc'), over);
}
