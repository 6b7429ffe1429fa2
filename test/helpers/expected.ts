import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * The star schema the load rules define, computed in plain TypeScript straight from the JSON files,
 * independently of the SQL under test.
 */

type Obj = Record<string, any>;

function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => /\.json(\.gz)?$/.test(f))
    .sort();
}

function read(file: string): string {
  const buf = fs.readFileSync(file);
  return (file.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8').replace(/^\uFEFF/, '');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Text read as Latin-1 from UTF-8, decoded again while that is exact; the last decoding without
 * control characters wins (a second, independent rendering of the rule).
 */
export function undoLatin1(text: string): string {
  let best = text;
  for (let current = text; ; ) {
    if ([...current].some((c) => c.charCodeAt(0) > 0xff)) return best;
    let decoded: string;
    try {
      decoded = strictUtf8.decode(Buffer.from(current, 'latin1'));
    } catch {
      return best;
    }
    if (decoded === current) return best;
    current = decoded;
    if (!/[\x00-\x1f\x7f-\x9f]/.test(current)) best = current;
  }
}

function repaired(record: Obj): Obj {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, typeof v === 'string' ? undoLatin1(v) : v]));
}

/** Song files hold one object each (possibly pretty-printed); logs one object per line. Texts as staging repairs them. */
export function readSongs(dir: string, repair = true): Obj[] {
  return walk(dir).map((f) => JSON.parse(read(f))).map((r) => (repair ? repaired(r) : r));
}
export function readEvents(dir: string, repair = true): Obj[] {
  return walk(dir).flatMap((f) => read(f).split(/\r?\n/).filter((l) => l.trim()).map((l) => JSON.parse(l))).map((r) => (repair ? repaired(r) : r));
}

/** ISO 8601 week number of a UTC date. */
export function isoWeek(d: Date): number {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  return Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
}

/** The time row of a play at `ms` epoch milliseconds: UTC parts, ISO week, weekday 0 = Sunday. */
export function timeRow(ms: number) {
  const d = new Date(ms);
  return {
    start_time: d,
    hour: d.getUTCHours(),
    day: d.getUTCDate(),
    week: isoWeek(d),
    month: d.getUTCMonth() + 1,
    year: d.getUTCFullYear(),
    weekday: d.getUTCDay(),
  };
}

const byKey = <T>(rows: T[], key: (r: T) => string) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

/** Every star table's expected rows, sorted by key. */
export function expectedStar(songRecords: Obj[], events: Obj[]) {
  const songMap = new Map<string, Obj>();
  for (const s of songRecords) songMap.set(s.song_id, s);
  const songs = byKey(
    [...songMap.values()].map((s) => ({
      song_id: s.song_id,
      title: s.title,
      artist_id: s.artist_id,
      artist_name: s.artist_name,
      year: s.year === 0 ? null : s.year,
      duration: s.duration,
    })),
    (r) => r.song_id,
  );

  const artistMap = new Map<string, Obj>();
  for (const s of [...songMap.values()].sort((a, b) => (a.song_id < b.song_id ? -1 : 1))) {
    if (!artistMap.has(s.artist_id)) artistMap.set(s.artist_id, s);
  }
  const artists = byKey(
    [...artistMap.values()].map((s) => ({
      artist_id: s.artist_id,
      name: s.artist_name,
      location: s.artist_location?.trim() ? s.artist_location.trim() : null,
      latitude: s.artist_latitude,
      longitude: s.artist_longitude,
      source_song_id: s.song_id,
    })),
    (r) => r.artist_id,
  );

  const latest = new Map<string, Obj>();
  const newer = (a: Obj, b: Obj) =>
    a.ts !== b.ts ? a.ts > b.ts : a.sessionId !== b.sessionId ? a.sessionId > b.sessionId : a.itemInSession > b.itemInSession;
  for (const e of events) {
    if (!e.userId) continue;
    const seen = latest.get(e.userId);
    if (!seen || newer(e, seen)) latest.set(e.userId, e);
  }
  const users = byKey(
    [...latest.values()].map((e) => ({
      user_id: Number(e.userId),
      first_name: e.firstName,
      last_name: e.lastName,
      gender: e.gender,
      level: e.level,
      last_seen_at: new Date(e.ts),
    })),
    (r) => String(r.user_id).padStart(10, '0'),
  );

  const plays = new Map<string, Obj>();
  for (const e of events) if (e.page === 'NextSong') plays.set(`${e.ts}/${e.sessionId}/${e.itemInSession}`, e);
  const songplays = byKey(
    [...plays.values()].map((e) => {
      const matches = [...songMap.values()]
        .filter((s) => s.title === e.song && s.artist_name === e.artist && s.duration === e.length)
        .sort((a, b) => (a.song_id < b.song_id ? -1 : 1));
      return {
        start_time: new Date(e.ts),
        user_id: e.userId ? Number(e.userId) : null,
        level: e.level,
        song_id: matches[0]?.song_id ?? null,
        artist_id: matches[0]?.artist_id ?? null,
        session_id: e.sessionId,
        item_in_session: e.itemInSession,
        location: e.location,
        user_agent: e.userAgent,
        song_title: e.song,
        artist_name: e.artist,
        song_length: e.length,
      };
    }),
    (r) => `${r.start_time.toISOString()}/${String(r.session_id).padStart(10, '0')}/${String(r.item_in_session).padStart(10, '0')}`,
  );

  const times = [...new Set([...plays.values()].map((e) => e.ts as number))].sort((a, b) => a - b);
  return { songs, artists, users, songplays, time: times.map(timeRow) };
}
