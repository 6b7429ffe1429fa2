import type { Generated } from 'kysely';

/**
 * The warehouse schema as Kysely sees it. `test/schema.test.ts` compares these interfaces with the
 * migrated database, so a column added to one and not the other fails the build.
 */

/** One row per event-log record of the latest run, one column per JSON field. */
export interface StagingEventsTable {
  artist: string | null;
  auth: string | null;
  first_name: string | null;
  gender: string | null;
  item_in_session: number | null;
  last_name: string | null;
  length: number | null;
  level: string | null;
  location: string | null;
  method: string | null;
  page: string;
  registration: number | null;
  session_id: number | null;
  song: string | null;
  status: number | null;
  /** Event time in epoch milliseconds. */
  ts: number;
  user_agent: string | null;
  user_id: string | null;
  /** Lineage: the file and 1-based line the record starts on (NULL when Redshift COPY loaded it). */
  source_file: string | null;
  source_line: number | null;
}

/** One row per song-file record of the latest run. */
export interface StagingSongsTable {
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
  source_file: string | null;
  source_line: number | null;
}

/** Fact: one row per NextSong event, ever. Natural key: (start_time, session_id, item_in_session). */
export interface SongplaysTable {
  songplay_id: Generated<number>;
  start_time: Date;
  user_id: number | null;
  level: string | null;
  song_id: string | null;
  artist_id: string | null;
  session_id: number;
  item_in_session: number;
  location: string | null;
  user_agent: string | null;
  /** What the event said was played: kept so that plays can be matched when their song arrives later. */
  song_title: string | null;
  artist_name: string | null;
  song_length: number | null;
}

/** Dimension: one row per user, as of the user's most recent event. */
export interface UsersTable {
  user_id: number;
  first_name: string | null;
  last_name: string | null;
  gender: string | null;
  level: string | null;
  /** Time of the event the row was taken from: older events never overwrite newer state. */
  last_seen_at: Date;
  /** Session and item of that event: with last_seen_at, the order in which events replace the row (NULL for rows loaded before migration 06). */
  last_session_id: number | null;
  last_item_in_session: number | null;
}

/** Dimension: one row per song. */
export interface SongsTable {
  song_id: string;
  title: string | null;
  artist_id: string;
  /** The artist name as credited on this song, which plays are matched against. */
  artist_name: string | null;
  year: number | null;
  duration: number | null;
}

/** Dimension: one row per artist, taken from the artist's song with the lowest song_id. */
export interface ArtistsTable {
  artist_id: string;
  name: string | null;
  location: string | null;
  latitude: number | null;
  longitude: number | null;
  /** The song whose metadata the row came from (the rule that makes the choice deterministic). */
  source_song_id: string;
}

/** Dimension: one row per distinct songplay start_time. */
export interface TimeTable {
  start_time: Date;
  hour: number;
  day: number;
  week: number;
  month: number;
  year: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'abandoned';

/** One row per ETL run; a run killed mid-way stays 'running' until the next run marks it 'abandoned'. */
export interface EtlRunsTable {
  run_id: string;
  started_at: Date;
  finished_at: Date | null;
  status: RunStatus;
  /** The run's options as JSON (never a secret). */
  options: string;
  files: number | null;
  records_read: number | null;
  staged: number | null;
  rejected: number | null;
  error: string | null;
}

/** Per run and file: records read = staged + rejected. */
export interface EtlRunFilesTable {
  run_id: string;
  source: 'songs' | 'events';
  /** Relative to the source directory. */
  path: string;
  size: number;
  /** SHA-256 of the file's bytes, hex. */
  hash: string;
  records_read: number;
  staged: number;
  rejected: number;
}

/** Records that could not be loaded, with where they were and why. */
export interface LoadErrorsTable {
  run_id: string;
  source: 'songs' | 'events';
  file: string;
  /** 1-based line the record starts on. */
  line: number;
  reason: string;
  /** The record's text, cut to a bound. */
  raw: string;
}

/** The manifest: files whose records are in the warehouse, by content, so unchanged files are skipped. */
export interface LoadedFilesTable {
  source: 'songs' | 'events';
  path: string;
  size: number;
  /** Modification time in epoch milliseconds when loaded. */
  mtime_ms: number;
  hash: string;
  run_id: string;
  loaded_at: Date;
}

/** The running run's files to load, in load order (a work table: emptied when a run starts). */
export interface EtlFileQueueTable {
  run_id: string;
  source: 'songs' | 'events';
  /** Load order within the source: path order. */
  seq: number;
  /** Relative to the source directory. */
  path: string;
  /** The path as opened, and as staging's source_file names it. */
  file: string;
  size: number;
  mtime_ms: number;
  /** Known before staging when the file was hashed to tell a changed file from a touched one. */
  hash: string | null;
}

/** What staging made of each queued file (a work table: emptied when a run starts). */
export interface EtlFileStatsTable {
  run_id: string;
  source: 'songs' | 'events';
  seq: number;
  hash: string;
  records_read: number;
  staged: number;
  rejected: number;
}

/** Empty: on Redshift, an ETL run holds a table lock on it for its whole duration. */
export interface EtlLockTable {
  holder: string | null;
}

/** Every table of the warehouse, by name. */
export interface Database {
  staging_events: StagingEventsTable;
  staging_songs: StagingSongsTable;
  songplays: SongplaysTable;
  users: UsersTable;
  songs: SongsTable;
  artists: ArtistsTable;
  time: TimeTable;
  etl_runs: EtlRunsTable;
  etl_run_files: EtlRunFilesTable;
  load_errors: LoadErrorsTable;
  loaded_files: LoadedFilesTable;
  etl_lock: EtlLockTable;
  etl_file_queue: EtlFileQueueTable;
  etl_file_stats: EtlFileStatsTable;
}

/** The star tables, in load order. */
export const STAR_TABLES = ['songs', 'artists', 'users', 'songplays', 'time'] as const;
export type StarTable = (typeof STAR_TABLES)[number];
