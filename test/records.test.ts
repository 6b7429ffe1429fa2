import { describe, expect, it } from 'vitest';
import { escapeCopy, toCopyRow } from '../src/etl/read/records.js';
import { EVENT_SOURCE, SONG_SOURCE } from '../src/types/raw.js';
import { event, song } from './helpers/files.js';

const row = (text: string, source = EVENT_SOURCE) => toCopyRow(source, { text, line: 7 }, 'logs/a.json');

describe('toCopyRow', () => {
  it('writes one tab-separated cell per field, NULL as \\N, then the lineage', () => {
    const out = row(event({ userId: '42', length: 1.5, song: null }));
    expect(typeof out).toBe('string');
    const cells = (out as string).replace(/\n$/, '').split('\t');
    expect(cells).toHaveLength(EVENT_SOURCE.fields.length + 2);
    const byColumn = Object.fromEntries(EVENT_SOURCE.fields.map((f, i) => [f.column, cells[i]]));
    expect(byColumn).toMatchObject({ user_id: '42', length: '1.5', song: '\\N', ts: '1541990000000' });
    expect(cells.slice(-2)).toEqual(['logs/a.json', '7']);
  });

  it('escapes backslashes, tabs and newlines in text', () => {
    expect(escapeCopy('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(row(event({ song: 'x\ty' }))).toContain('x\\ty');
  });

  it('checks text made only of characters that are not plain ASCII as closely as any other', () => {
    const cell = (song: string) => {
      const out = row(event({ song }));
      return typeof out === 'string' ? out.split('\t')[EVENT_SOURCE.fields.findIndex((f) => f.json === 'song')] : out;
    };
    expect(cell('\t\\')).toBe('\\t\\\\');
    expect(cell('Ã©')).toBe('é');
    expect(cell('\u0000')).toMatchObject({ reason: 'field "song" contains a NUL character' });
  });

  it.each([
    ['not JSON', '{"ts": 1, page: "x"}', /not valid JSON/],
    ['an array', '[1,2]', /not a JSON object but an array/],
    ['a number', '42', /not a JSON object but number/],
    ['missing ts', event({ ts: undefined }), /missing required field "ts"/],
    ['missing page', event({ page: null }), /missing required field "page"/],
    ['ts not an integer', event({ ts: 15.5 }), /field "ts" should be an integer/],
    ['ts a string', event({ ts: '1541990000000' }), /field "ts" should be an integer/],
    ['userId a number', event({ userId: 10 }), /field "userId" should be a string/],
    ['userId not digits', event({ userId: 'abc' }), /field "userId" should be a string of digits/],
    ['sessionId beyond 32 bits', event({ sessionId: 2 ** 31 }), /"sessionId" should be a 32-bit integer/],
    ['a NUL in text', event({ location: 'a\u0000b' }), /NUL character/],
    ['a play without its session', event({ page: 'NextSong', sessionId: null }), /NextSong event needs/],
  ])('rejects %s, naming the reason', (_, text, reason) => {
    const out = row(text);
    expect(out).toMatchObject({ file: 'logs/a.json', line: 7, reason: expect.stringMatching(reason) });
  });

  it('counts VARCHAR length in UTF-8 bytes, as Redshift does', () => {
    const level = EVENT_SOURCE.fields.find((f) => f.json === 'level')!;
    const fits = 'é'.repeat(level.maxBytes! / 2);
    expect(typeof row(event({ level: fits }))).toBe('string');
    expect(row(event({ level: `${fits}é` }))).toMatchObject({ reason: expect.stringMatching(/bytes long, more than/) });
  });

  it('keeps the raw text of a reject, cut to a bound', () => {
    const out = row(`{"x": "${'y'.repeat(5000)}"`);
    expect(out).toMatchObject({ raw: expect.any(String) });
    expect((out as { raw: string }).raw.length).toBe(2000);
  });

  it('keeps the NUL bytes of binary junk visible, as text PostgreSQL can store', () => {
    const out = row('\u001f\u008b\u0008\u0000junk\u0000');
    expect(out).toMatchObject({ reason: expect.stringMatching(/not valid JSON/), raw: '\u001f\u008b\u0008\\u0000junk\\u0000' });
  });

  it('accepts song records, with nulls where the Million Song data has them', () => {
    expect(typeof toCopyRow(SONG_SOURCE, { text: song({ artist_latitude: null, year: 0 }), line: 1 }, 'f')).toBe('string');
  });
});

describe('repairMojibake', () => {
  it('repairs UTF-8 read as Latin-1, once or twice, and counts it', async () => {
    const { repairMojibake } = await import('../src/etl/read/records.js');
    const once = Buffer.from('Björk', 'utf8').toString('latin1');
    const twice = Buffer.from(once, 'utf8').toString('latin1');
    expect(twice).toBe('BjÃ\u0083Â¶rk'); // as the real logs hold it
    expect(repairMojibake(once)).toBe('Björk');
    expect(repairMojibake(twice)).toBe('Björk');
    expect(repairMojibake('Sala De RecepÃ§Ã£o')).toBe('Sala De Recepção');
    const stats = { repaired: 0 };
    const r = toCopyRow(EVENT_SOURCE, { text: JSON.stringify({ page: 'Home', ts: 1, userId: '', artist: twice, song: 'plain' }), line: 1 }, 'f', stats);
    expect(typeof r === 'string' && r.split('\t')[0]).toBe('Björk');
    expect(stats.repaired).toBe(1);
  });

  it.each(['Beyoncé', 'Mötley Crüe', 'Sigur Rós', 'Motörhead', 'naïve café', 'ÃÂ', 'Ã Ã', 'Ã©\u0001', '日本語 Ã©', 'plain ASCII'])('leaves %s as it is', async (text) => {
    const { repairMojibake } = await import('../src/etl/read/records.js');
    expect(repairMojibake(text)).toBe(text);
  });
});
