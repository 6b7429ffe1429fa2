// Conflicting records, not just repeated ones: which record wins, field by field, by the README's
// load rules. Each case is loaded in both file orders (and, where the rule speaks of runs, in both
// run orders), so that a rule that lets the file or the order decide fails.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runEtl } from '../src/etl/pipeline.js';
import { STAR_TABLES } from '../src/types/database.js';
import { openTestWarehouse } from './helpers/db.js';
import { event, song, writeTree } from './helpers/files.js';

const T0 = Date.UTC(2018, 10, 12, 10, 0, 0, 250);

describe('conflicting records', () => {
  let wh: Awaited<ReturnType<typeof openTestWarehouse>>;
  let empty: string;
  beforeAll(async () => {
    wh = await openTestWarehouse();
    empty = await writeTree({});
  });
  afterAll(() => wh.close());
  const reset = async () => {
    for (const t of [...STAR_TABLES, 'loaded_files'] as const) await wh.db.deleteFrom(t).execute();
  };
  beforeEach(reset);

  const load = async (songs: Record<string, string>, logs: Record<string, string> = {}) =>
    runEtl(wh, { songsDir: Object.keys(songs).length ? await writeTree(songs) : empty, logsDir: Object.keys(logs).length ? await writeTree(logs) : empty });
  const songsTable = () => wh.db.selectFrom('songs').selectAll().orderBy('song_id').execute();
  const artistsTable = () => wh.db.selectFrom('artists').selectAll().orderBy('artist_id').execute();

  describe('duplicate plays that differ', () => {
    // One event (same ts, session and item) delivered twice with different content.
    const key = { page: 'NextSong', ts: T0, sessionId: 42, itemInSession: 3, userId: '7' };
    const free = event({ ...key, level: 'free', song: 'Song A', artist: 'Band', length: 201.5, location: 'Austin, TX', userAgent: 'Agent A' });
    const paid = event({ ...key, level: 'paid', song: 'Song B', artist: 'Band', length: 180.25, location: 'Boston, MA', userAgent: 'Agent B' });
    // README: which duplicate wins is decided by content, the copy that sorts last (user, level, song, …): 'paid' > 'free'.
    const winner = { level: 'paid', song_title: 'Song B', artist_name: 'Band', song_length: 180.25, location: 'Boston, MA', user_agent: 'Agent B' };
    const play = () =>
      wh.db.selectFrom('songplays').select(['user_id', 'session_id', 'item_in_session', 'level', 'song_title', 'artist_name', 'song_length', 'location', 'user_agent']).execute();

    it('in one run: the copy that sorts last by content wins whole, whichever file holds it', async () => {
      for (const files of [{ 'a.json': paid, 'b.json': free }, { 'a.json': free, 'b.json': paid }, { 'ab.json': `${paid}\n${free}` }, { 'ab.json': `${free}\n${paid}` }] as Record<string, string>[]) {
        await reset();
        await load({}, files);
        expect(await play()).toEqual([{ user_id: 7, session_id: 42, item_in_session: 3, ...winner }]);
      }
    });

    it('across runs: a later run that brings the event again with other content replaces it (a corrected file)', async () => {
      await load({}, { 'a.json': paid });
      await load({}, { 'b.json': free });
      expect(await play()).toEqual([
        { user_id: 7, session_id: 42, item_in_session: 3, level: 'free', song_title: 'Song A', artist_name: 'Band', song_length: 201.5, location: 'Austin, TX', user_agent: 'Agent A' },
      ]);
    });
  });

  describe('two song files with the same song_id', () => {
    const older = song({ song_id: 'SO1', title: 'Alpha', artist_id: 'AR1', artist_name: 'Zed', year: 2001, duration: 100.5, artist_location: 'Paris', artist_latitude: 48.85, artist_longitude: 2.35 });
    const newer = song({ song_id: 'SO1', title: 'Beta', artist_id: 'AR1', artist_name: 'Ann', year: 1999, duration: 99.25, artist_location: 'Rome', artist_latitude: 41.9, artist_longitude: 12.5 });
    const rowOf = (r: { title: string; artist_name: string; year: number; duration: number }) => ({ song_id: 'SO1', title: r.title, artist_id: 'AR1', artist_name: r.artist_name, year: r.year, duration: r.duration });
    const beta = rowOf({ title: 'Beta', artist_name: 'Ann', year: 1999, duration: 99.25 });
    const alpha = rowOf({ title: 'Alpha', artist_name: 'Zed', year: 2001, duration: 100.5 });
    const artistOf = (name: string, location: string, latitude: number, longitude: number) => ({ artist_id: 'AR1', name, location, latitude, longitude, source_song_id: 'SO1' });

    it('in one run: the record that sorts last by (title, artist, year, duration) wins, whatever the file order; the artist row comes from that same record', async () => {
      // 'Beta' sorts after 'Alpha': it wins from the first file or the last, and its artist fields with it
      // (though its artist name, 'Ann', sorts before the other's 'Zed').
      for (const files of [{ 'a.json': newer, 'b.json': older }, { 'a.json': older, 'b.json': newer }]) {
        await reset();
        await load(files);
        expect(await songsTable()).toEqual([beta]);
        expect(await artistsTable()).toEqual([artistOf('Ann', 'Rome', 41.9, 12.5)]);
      }
    });

    it('in one run, the same title: the later year decides', async () => {
      const a = song({ song_id: 'SO1', title: 'Same', artist_name: 'Same', year: 1990, duration: 300 });
      const b = song({ song_id: 'SO1', title: 'Same', artist_name: 'Same', year: 2005, duration: 200 });
      for (const files of [{ 'a.json': a, 'b.json': b }, { 'a.json': b, 'b.json': a }]) {
        await reset();
        await load(files);
        expect((await songsTable()).map((s) => [s.year, s.duration])).toEqual([[2005, 200]]);
      }
    });

    it("across runs: the later run's record replaces the song, and its artist row with it", async () => {
      await load({ 'a.json': newer });
      await load({ 'b.json': older });
      expect(await songsTable()).toEqual([alpha]);
      expect(await artistsTable()).toEqual([artistOf('Zed', 'Paris', 48.85, 2.35)]);
      await load({ 'c.json': newer });
      expect(await songsTable()).toEqual([beta]);
      expect(await artistsTable()).toEqual([artistOf('Ann', 'Rome', 41.9, 12.5)]);
    });
  });

  describe('the catalogue repeating a (title, artist name, duration) under different song_ids', () => {
    const twin = (songId: string, artistId: string, year: number) => song({ song_id: songId, artist_id: artistId, title: 'Twin', artist_name: 'Twins', duration: 222.5, year });
    const played = event({ page: 'NextSong', song: 'Twin', artist: 'Twins', length: 222.5, ts: T0, sessionId: 1, itemInSession: 0 });
    const link = () => wh.db.selectFrom('songplays').select(['song_id', 'artist_id']).execute();

    it('a play matches the lowest song_id, whichever file holds it', async () => {
      for (const files of [{ 'a.json': twin('SOB', 'ARB', 2000), 'b.json': twin('SOA', 'ARA', 1990) }, { 'a.json': twin('SOA', 'ARA', 1990), 'b.json': twin('SOB', 'ARB', 2000) }]) {
        await reset();
        await load(files, { 'p.json': played });
        expect(await link()).toEqual([{ song_id: 'SOA', artist_id: 'ARA' }]);
      }
    });

    it('a play matched to a higher song_id moves to the lower one when it arrives in a later run, as if loaded together', async () => {
      await load({ 'b.json': twin('SOB', 'ARB', 2000) }, { 'p.json': played });
      expect(await link()).toEqual([{ song_id: 'SOB', artist_id: 'ARB' }]);
      await load({ 'a.json': twin('SOA', 'ARA', 1990) });
      expect(await link()).toEqual([{ song_id: 'SOA', artist_id: 'ARA' }]);
      // and a later, higher twin takes nothing over
      await load({ 'c.json': twin('SOC', 'ARC', 2010) });
      expect(await link()).toEqual([{ song_id: 'SOA', artist_id: 'ARA' }]);
    });
  });
});
