import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { openTestWarehouse } from './helpers/db.js';
import { expectedStar, readEvents, readSongs } from './helpers/expected.js';
import { starSnapshot } from './helpers/snapshot.js';

async function treeHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await fs.readdir(dir, { recursive: true })).sort();
  for (const f of files) {
    const p = path.join(dir, f);
    if ((await fs.stat(p)).isFile()) hash.update(f).update(await fs.readFile(p));
  }
  return hash.digest('hex');
}

describe('generate', () => {
  let out: string;
  beforeAll(async () => {
    out = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-gen-'));
    await generate({ out, songs: 60, events: 3000, seed: 7, days: 5 });
  });
  afterAll(() => fs.rm(out, { recursive: true, force: true }));

  it('writes the Million Song and eventsim layouts', async () => {
    const songs = (await fs.readdir(path.join(out, 'song_data'), { recursive: true })).filter((f) => f.endsWith('.json'));
    expect(songs).toHaveLength(60);
    for (const f of songs) expect(f).toMatch(/^([A-Z0-9])\/([A-Z0-9])\/([A-Z0-9])\/TR\1\2\3[A-Z0-9]{13}\.json$/);
    const logs = (await fs.readdir(path.join(out, 'log_data'), { recursive: true })).filter((f) => f.endsWith('.json')).sort();
    expect(logs).toEqual([1, 2, 3, 4, 5].map((d) => `2018/11/2018-11-0${d}-events.json`));
  });

  it('is deterministic for a seed', async () => {
    const again = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-gen-'));
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-gen-'));
    await generate({ out: again, songs: 60, events: 3000, seed: 7, days: 5 });
    await generate({ out: other, songs: 60, events: 3000, seed: 8, days: 5 });
    expect(await treeHash(again)).toBe(await treeHash(out));
    expect(await treeHash(other)).not.toBe(await treeHash(out));
  });

  it('has the shapes of the real data: logged-out visitors, level changes, pages, plays in and out of the catalogue', async () => {
    const events = readEvents(path.join(out, 'log_data'));
    const songs = readSongs(path.join(out, 'song_data'));
    expect(events).toHaveLength(3000);
    expect(events.some((e) => e.userId === '' && e.auth === 'Logged Out' && e.firstName === null)).toBe(true);
    expect([...new Set(events.map((e) => e.page))]).toEqual(expect.arrayContaining(['NextSong', 'Home', 'Submit Upgrade']));
    const levels = new Map<string, Set<string>>();
    for (const e of events) if (e.userId) (levels.get(e.userId) ?? levels.set(e.userId, new Set()).get(e.userId)!).add(e.level);
    expect([...levels.values()].some((s) => s.size === 2)).toBe(true);
    const inCatalogue = (e: any) => songs.some((s) => s.title === e.song && s.artist_name === e.artist && s.duration === e.length);
    const plays = events.filter((e) => e.page === 'NextSong');
    expect(plays.some(inCatalogue)).toBe(true);
    expect(plays.some((e) => !inCatalogue(e))).toBe(true);
    // Every event falls on the day its file is named for.
    for (const day of [1, 2, 3, 4, 5]) {
      const file = path.join(out, `log_data/2018/11/2018-11-0${day}-events.json`);
      const lines = (await fs.readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.length).toBeGreaterThan(0);
      for (const e of lines) expect(new Date(e.ts).getUTCDate()).toBe(day);
    }
  });

  it('loads into exactly the star schema the rules define', async () => {
    const wh = await openTestWarehouse();
    try {
      const summary = await runEtl(wh, { songsDir: path.join(out, 'song_data'), logsDir: path.join(out, 'log_data') });
      expect(summary.rejected).toBe(0);
      expect(await starSnapshot(wh.db)).toEqual(
        expectedStar(readSongs(path.join(out, 'song_data')), readEvents(path.join(out, 'log_data'))),
      );
    } finally {
      await wh.close();
    }
  });
});
