import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { RawEvent, RawSong } from '../types/raw.js';

export interface GenerateOptions {
  /** Output directory; gets `song_data/` and `log_data/` like the real sample. */
  out: string;
  songs: number;
  events: number;
  seed: number;
  /** Days of logs (default 30). */
  days?: number;
  /** First day of logs, YYYY-MM-DD (default 2018-11-01, as the real sample). */
  start?: string;
}

export interface GenerateResult {
  songFiles: number;
  logFiles: number;
  events: number;
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same data set byte for byte. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const FIRST = ['Kevin', 'Maia', 'Jacob', 'Lily', 'Chloe', 'Tegan', 'Aleena', 'Ryan', 'Jayden', 'Kate', 'Mohammad', 'Ava', 'Noah', 'Sara', 'Émile', 'Zoë'];
const LAST = ['Arellano', 'Burke', 'Klein', 'Koch', 'Cuevas', 'Levine', 'Kirby', 'Smith', 'Graves', 'Harrell', 'Rodriguez', "O'Brien"];
const CITIES = ['Harrisburg-Carlisle, PA', 'Houston-The Woodlands-Sugar Land, TX', 'Atlanta-Sandy Springs-Roswell, GA', 'San Francisco-Oakland-Hayward, CA', 'Portland-South Portland, ME', 'Lansing-East Lansing, MI'];
const AGENTS = [
  '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36"',
  '"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"',
  'Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0',
];
const WORDS = ['Love', 'Night', 'Fire', 'Rose', 'Tonne', 'Ja', 'Ty', 'Sky', 'Blue', 'Heart', 'Dance', 'Rain', 'Wild', 'Gold', 'Café', 'Señor'];
const ARTIST_PLACES = ['Denmark', 'London, England', 'New York, NY', 'Kingston, Jamaica', '', 'Berlin'];
const BROWSE_PAGES = ['Home', 'Settings', 'Save Settings', 'Help', 'About', 'Error', 'Logout'];
const LOGGED_OUT_PAGES = ['Home', 'Login', 'About', 'Help'];

function id(rng: Rng, prefix: string): string {
  let s = prefix;
  for (let i = 0; i < 16; i++) s += ALNUM[rng.int(0, ALNUM.length - 1)];
  return s;
}

function title(rng: Rng): string {
  const n = rng.int(1, 3);
  return Array.from({ length: n }, () => rng.pick(WORDS)).join(' ');
}

/** Writes a data set in the Million Song (songs) and eventsim (logs) layouts. */
export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const rng = prng(options.seed);
  const days = options.days ?? 30;
  const songDir = path.join(options.out, 'song_data');
  const logDir = path.join(options.out, 'log_data');
  await fs.rm(songDir, { recursive: true, force: true });
  await fs.rm(logDir, { recursive: true, force: true });

  const catalogue = await writeSongs(rng, songDir, options.songs);
  const start = Date.parse(`${options.start ?? '2018-11-01'}T00:00:00Z`);
  if (Number.isNaN(start)) throw new Error(`start must be a date YYYY-MM-DD, not ${options.start}`);
  const logFiles = await writeEvents(rng, logDir, options.events, days, catalogue, start);
  return { songFiles: catalogue.length, logFiles, events: options.events };
}

async function writeSongs(rng: Rng, dir: string, count: number): Promise<RawSong[]> {
  const artists: { id: string; names: string[]; place: string; lat: number | null; lon: number | null }[] = [];
  const songs: RawSong[] = [];
  for (let i = 0; i < count; i++) {
    // Mostly new artists; some artists have several songs, and some of those under another name.
    if (artists.length === 0 || rng.chance(0.7)) {
      const located = rng.chance(0.6);
      artists.push({
        id: id(rng, 'AR'),
        names: [`${rng.pick(WORDS)} ${rng.pick(['Band', 'Trio', 'Collective', 'Sound'])}`],
        place: rng.pick(ARTIST_PLACES),
        lat: located ? Math.round(rng.next() * 1800000 - 900000) / 10000 : null,
        lon: located ? Math.round(rng.next() * 3600000 - 1800000) / 10000 : null,
      });
    }
    const artist = rng.pick(artists);
    if (rng.chance(0.05)) artist.names.push(`${artist.names[0]} feat. ${rng.pick(FIRST)}`);
    songs.push({
      num_songs: 1,
      artist_id: artist.id,
      artist_latitude: artist.lat,
      artist_longitude: artist.lon,
      artist_location: artist.place,
      artist_name: rng.pick(artist.names),
      song_id: id(rng, 'SO'),
      title: title(rng),
      duration: Math.round((60 + rng.next() * 400) * 100000) / 100000,
      year: rng.chance(0.4) ? 0 : rng.int(1960, 2010),
    });
  }
  for (const song of songs) {
    const track = id(rng, 'TR');
    const file = path.join(dir, track[2]!, track[3]!, track[4]!, `${track}.json`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Half the files pretty-printed over several lines, as some Million Song exports are.
    await fs.writeFile(file, rng.chance(0.5) ? JSON.stringify(song, null, 2) : JSON.stringify(song));
  }
  return songs;
}

interface User {
  id: string;
  first: string;
  last: string;
  gender: string;
  level: string;
  location: string;
  agent: string;
  registration: number;
}

async function writeEvents(rng: Rng, dir: string, total: number, days: number, catalogue: RawSong[], start: number): Promise<number> {
  const users: User[] = Array.from({ length: Math.max(10, Math.min(10000, Math.round(total / 80))) }, (_, i) => ({
    id: String(i + 2),
    first: rng.pick(FIRST),
    last: rng.pick(LAST),
    gender: rng.chance(0.5) ? 'F' : 'M',
    level: rng.chance(0.3) ? 'paid' : 'free',
    location: rng.pick(CITIES),
    agent: rng.pick(AGENTS),
    registration: start - rng.int(1, 60) * 86400000 + 796,
  }));
  let sessionId = 1;
  for (let day = 0; day < days; day++) {
    const date = new Date(start + day * 86400000);
    const name = `${date.toISOString().slice(0, 10)}-events.json`;
    const file = path.join(dir, String(date.getUTCFullYear()), String(date.getUTCMonth() + 1).padStart(2, '0'), name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const out = createWriteStream(file);
    const quota = Math.floor(total / days) + (day < total % days ? 1 : 0);
    const dayEvents: RawEvent[] = [];
    while (dayEvents.length < quota) {
      const length = Math.min(quota - dayEvents.length, rng.int(1, 40));
      const user = rng.chance(0.03) ? undefined : rng.pick(users);
      session(rng, user, sessionId++, start + day * 86400000, length, catalogue, dayEvents);
    }
    dayEvents.sort((a, b) => a.ts - b.ts);
    let buffer = '';
    for (const event of dayEvents) {
      buffer += `${JSON.stringify(event)}\n`;
      if (buffer.length > 1 << 16) {
        if (!out.write(buffer)) await once(out, 'drain');
        buffer = '';
      }
    }
    out.end(buffer);
    await once(out, 'finish');
  }
  return days;
}

/** One session of a user (or of a logged-out visitor); at most 40 events, so it ends within its day. */
function session(rng: Rng, user: User | undefined, sessionId: number, dayStart: number, count: number, catalogue: RawSong[], out: RawEvent[]) {
  let ts = dayStart + rng.int(0, 86400 - 6 * 3600) * 1000 + 796;
  for (let item = 0; item < count; item++) {
    const base = {
      artist: null,
      auth: user ? 'Logged In' : 'Logged Out',
      firstName: user?.first ?? null,
      gender: user?.gender ?? null,
      itemInSession: item,
      lastName: user?.last ?? null,
      length: null,
      level: user?.level ?? 'free',
      location: user?.location ?? null,
      method: 'GET',
      page: 'Home',
      registration: user?.registration ?? null,
      sessionId,
      song: null,
      status: 200,
      ts,
      userAgent: user?.agent ?? null,
      userId: user?.id ?? '',
    } satisfies RawEvent;
    let event: RawEvent;
    if (!user) {
      event = { ...base, page: rng.pick(LOGGED_OUT_PAGES), method: rng.chance(0.5) ? 'PUT' : 'GET', status: rng.chance(0.3) ? 307 : 200 };
    } else if (rng.chance(0.8)) {
      // A play: of a catalogue song most of the time, of a song outside the catalogue otherwise.
      const known = catalogue.length > 0 && rng.chance(0.6) ? rng.pick(catalogue) : undefined;
      event = {
        ...base,
        page: 'NextSong',
        method: 'PUT',
        artist: known ? known.artist_name : `${rng.pick(WORDS)} ${rng.pick(LAST)}`,
        song: known ? known.title : title(rng),
        length: known ? known.duration : Math.round((60 + rng.next() * 400) * 100000) / 100000,
      };
    } else if (rng.chance(0.1)) {
      // Level changes: the events after this one carry the new level.
      const upgrade = user.level === 'free';
      event = { ...base, page: upgrade ? 'Submit Upgrade' : 'Submit Downgrade', method: 'PUT', status: 307 };
      user.level = upgrade ? 'paid' : 'free';
    } else {
      const page = rng.pick(BROWSE_PAGES);
      event = { ...base, page, status: page === 'Error' ? 404 : 200 };
    }
    out.push(event);
    ts += (event.length ? Math.round(event.length * 1000) : rng.int(1, 30) * 1000);
  }
}
