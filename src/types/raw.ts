
/**
 * The raw JSON records and how each field maps to a staging column. One list per source drives
 * validation, the COPY row format and (on Redshift) the JSONPaths file.
 */

/** A record of an event-log file (eventsim layout). */
export interface RawEvent {
  artist: string | null;
  auth: string | null;
  firstName: string | null;
  gender: string | null;
  itemInSession: number | null;
  lastName: string | null;
  length: number | null;
  level: string | null;
  location: string | null;
  method: string | null;
  page: string;
  registration: number | null;
  sessionId: number | null;
  song: string | null;
  status: number | null;
  ts: number;
  userAgent: string | null;
  userId: string;
}

/** A record of a song file (Million Song Dataset layout). */
export interface RawSong {
  num_songs: number | null;
  artist_id: string;
  artist_latitude: number | null;
  artist_longitude: number | null;
  artist_location: string | null;
  artist_name: string | null;
  song_id: string;
  title: string | null;
  duration: number | null;
  year: number | null;
}

/** JSON value kinds a staging column accepts; `integer` is 32-bit, `bigint` any safe integer. */
export type FieldType = 'string' | 'integer' | 'bigint' | 'double';

export interface FieldSpec {
  /** Key in the JSON record. */
  json: string;
  /** Staging column it loads into. */
  column: string;
  type: FieldType;
  /** VARCHAR size in bytes, as Redshift counts it (strings only). */
  maxBytes?: number;
  /** A record without this field (or with null) is rejected. */
  required?: boolean;
  /** Strings must match this as well. */
  pattern?: RegExp;
  patternHint?: string;
}

/** Which source a file belongs to, and the staging table it loads into. */
export interface SourceSpec {
  name: 'songs' | 'events';
  table: 'staging_songs' | 'staging_events';
  fields: readonly FieldSpec[];
  /** A rule across fields; returns the reason a record is rejected, if it is. (COPY from S3 cannot apply it, nor field patterns: etl/stage/staged-rules.ts has them in SQL.) */
  recordRule?: (record: Record<string, unknown>) => string | undefined;
  /**
   * The staging columns the transforms, checks and reconciliation filter, join, group or partition
   * on: PostgreSQL's ANALYZE after staging samples only these (each column costs; undefined: all).
   */
  plannedColumns?: readonly string[];
}

export const USER_ID_HINT = 'a string of digits, or "" when logged out';
export const NEXT_SONG_NEEDS_POSITION = 'a NextSong event needs "sessionId" and "itemInSession"';

export const EVENT_SOURCE: SourceSpec = {
  name: 'events',
  table: 'staging_events',
  fields: [
    { json: 'artist', column: 'artist', type: 'string', maxBytes: 512 },
    { json: 'auth', column: 'auth', type: 'string', maxBytes: 32 },
    { json: 'firstName', column: 'first_name', type: 'string', maxBytes: 256 },
    { json: 'gender', column: 'gender', type: 'string', maxBytes: 16 },
    { json: 'itemInSession', column: 'item_in_session', type: 'integer' },
    { json: 'lastName', column: 'last_name', type: 'string', maxBytes: 256 },
    { json: 'length', column: 'length', type: 'double' },
    { json: 'level', column: 'level', type: 'string', maxBytes: 16 },
    { json: 'location', column: 'location', type: 'string', maxBytes: 512 },
    { json: 'method', column: 'method', type: 'string', maxBytes: 16 },
    { json: 'page', column: 'page', type: 'string', maxBytes: 64, required: true },
    { json: 'registration', column: 'registration', type: 'double' },
    { json: 'sessionId', column: 'session_id', type: 'integer' },
    { json: 'song', column: 'song', type: 'string', maxBytes: 512 },
    { json: 'status', column: 'status', type: 'integer' },
    { json: 'ts', column: 'ts', type: 'bigint', required: true },
    { json: 'userAgent', column: 'user_agent', type: 'string', maxBytes: 1024 },
    {
      json: 'userId',
      column: 'user_id',
      type: 'string',
      maxBytes: 32,
      // Users are keyed by integer id; "" marks a logged-out visitor.
      pattern: /^\d{0,9}$/,
      patternHint: USER_ID_HINT,
    },
  ],
  // Of the 20 columns, these steer plans; sampling all took 0.35 s for one day of the benchmark's events, these 0.17 s.
  plannedColumns: ['page', 'ts', 'session_id', 'item_in_session', 'user_id', 'song', 'artist', 'length', 'source_file'],
  // A play is identified by its session and position in it: without them it cannot be loaded once only.
  recordRule: (r) => (r.page === 'NextSong' && (r.sessionId == null || r.itemInSession == null) ? NEXT_SONG_NEEDS_POSITION : undefined),
};

export const SONG_SOURCE: SourceSpec = {
  name: 'songs',
  table: 'staging_songs',
  fields: [
    { json: 'num_songs', column: 'num_songs', type: 'integer' },
    { json: 'artist_id', column: 'artist_id', type: 'string', maxBytes: 32, required: true },
    { json: 'artist_latitude', column: 'artist_latitude', type: 'double' },
    { json: 'artist_longitude', column: 'artist_longitude', type: 'double' },
    { json: 'artist_location', column: 'artist_location', type: 'string', maxBytes: 512 },
    { json: 'artist_name', column: 'artist_name', type: 'string', maxBytes: 512 },
    { json: 'song_id', column: 'song_id', type: 'string', maxBytes: 32, required: true },
    { json: 'title', column: 'title', type: 'string', maxBytes: 512 },
    { json: 'duration', column: 'duration', type: 'double' },
    { json: 'year', column: 'year', type: 'integer' },
  ],
};

/** Lineage columns every staging table has after its JSON fields. */
export const LINEAGE_COLUMNS = ['source_file', 'source_line'] as const;
