import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import { NEXT_SONG_NEEDS_POSITION, type SourceSpec, USER_ID_HINT } from '../../types/raw.js';

/**
 * A rule that COPY from S3 cannot apply (it only converts types), checked on the staged rows of an
 * s3:// input instead: rows where `violated` holds become rejects with `reason`. Each mirrors a
 * field pattern or record rule of the source's spec (types/raw.ts), and a test holds the two to the
 * same records. (Kept out of the spec so that the parse workers, which load the spec, do not load
 * Kysely: it took 0.19 s of each worker's start.)
 */
export interface StagedRule {
  reason: string;
  // (Typed loosely: a spec serves either staging table; the columns are the spec's own.)
  violated: (eb: ExpressionBuilder<any, any>) => Expression<SqlBool>;
}

/** The pattern and record rules of each source as SQL, for rows COPY loaded from S3. */
export const STAGED_RULES: Record<SourceSpec['name'], readonly StagedRule[]> = {
  events: [
    // POSIX regular expressions, which Redshift and PostgreSQL share (https://docs.aws.amazon.com/redshift/latest/dg/pattern-matching-conditions-posix.html).
    { reason: `field "userId" should be ${USER_ID_HINT}`, violated: (eb) => eb('user_id', '!~', sql.lit('^[0-9]{0,9}$')) },
    {
      reason: NEXT_SONG_NEEDS_POSITION,
      violated: (eb) => eb.and([eb('page', '=', sql.lit('NextSong')), eb.or([eb('session_id', 'is', null), eb('item_in_session', 'is', null)])]),
    },
  ],
  songs: [],
};
