import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/**
 * The real Sparkify sample beside the project, present in CI and absent from a user's clone
 * (SPARKIFY_SAMPLE_DIR names it elsewhere: mutation runs test a copy of the project in .stryker-tmp).
 */
export const SAMPLE_DIR = process.env.SPARKIFY_SAMPLE_DIR || path.resolve(import.meta.dirname, '../../../shared/data/sparkify-sample');
export const HAS_SAMPLE = existsSync(SAMPLE_DIR);
if (!HAS_SAMPLE) console.warn(`Skipping real-sample tests: ${SAMPLE_DIR} not found (it ships beside the project in CI).`);

/** A temporary directory holding `files` (path → content; a `.gz` path is gzipped). */
export async function writeTree(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-files-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, name.endsWith('.gz') ? gzipSync(content) : content);
  }
  return dir;
}

/** One eventsim-style log line; fields not given take plausible values. */
export function event(fields: Record<string, unknown>): string {
  return JSON.stringify({
    artist: null,
    auth: 'Logged In',
    firstName: 'Ann',
    gender: 'F',
    itemInSession: 0,
    lastName: 'Lee',
    length: null,
    level: 'free',
    location: 'Boston, MA',
    method: 'GET',
    page: 'Home',
    registration: 1540000000000.0,
    sessionId: 1,
    song: null,
    status: 200,
    ts: 1541990000000,
    userAgent: 'Mozilla/5.0',
    userId: '10',
    ...fields,
  });
}

/** One Million-Song-style song record. */
export function song(fields: Record<string, unknown>): string {
  return JSON.stringify({
    num_songs: 1,
    artist_id: 'ARTEST00000000001',
    artist_latitude: null,
    artist_longitude: null,
    artist_location: '',
    artist_name: 'Test Artist',
    song_id: 'SOTEST00000000001',
    title: 'Test Song',
    duration: 200.5,
    year: 2000,
    ...fields,
  });
}
