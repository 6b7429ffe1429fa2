import { describe, expect, it } from 'vitest';
import { escapeCopy } from '../src/db/insert-rows.js';
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER } from '../src/etl/read/row-buffer.js';
import type { JsonText } from '../src/etl/read/json-records.js';
import { validateRecord } from '../src/etl/read/records.js';
import { EVENT_SOURCE, SONG_SOURCE, type SourceSpec } from '../src/types/raw.js';
import { isReject, stagedRow } from './helpers/binary-copy.js';
import { event, song } from './helpers/files.js';

const row = (text: string, source = EVENT_SOURCE) => stagedRow(source, { text, line: 7 }, 'logs/a.json');

describe('validateRecord', () => {
  it('writes one binary COPY cell per field, of its column\'s type, NULL as NULL, then the lineage', () => {
    const out = row(event({ userId: '42', length: 1.5, song: null, sessionId: -2147483648, ts: 2 ** 53 - 1 }));
    expect(out).toEqual(
      expect.objectContaining({ user_id: '42', length: 1.5, song: null, session_id: -2147483648, ts: 9007199254740991, source_file: 'logs/a.json', source_line: 7 }),
    );
    expect(Object.keys(out)).toHaveLength(EVENT_SOURCE.fields.length + 2);
    expect(row(event({ ts: -5, registration: -0.25 }))).toMatchObject({ ts: -5, registration: -0.25 });
  });

  it('frames the rows as PostgreSQL documents binary COPY: signature, two zero words, and -1 at the end', () => {
    const signature = Buffer.concat([Buffer.from('PGCOPY\n'), Buffer.from([0xff]), Buffer.from('\r\n'), Buffer.from([0])]);
    expect(BINARY_COPY_HEADER).toEqual(Buffer.concat([signature, Buffer.alloc(8)]));
    expect(BINARY_COPY_TRAILER.readInt16BE(0)).toBe(-1);
  });

  it('keeps backslashes, tabs and newlines in text as they are (binary COPY escapes nothing)', () => {
    expect(escapeCopy('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(row(event({ song: 'x\ty\\z\n' }))).toMatchObject({ song: 'x\ty\\z\n' });
  });

  it('checks text made only of characters that are not plain ASCII as closely as any other', () => {
    const cell = (song: string) => {
      const out = row(event({ song }));
      return isReject(out) ? out : out.song;
    };
    expect(cell('\t\\')).toBe('\t\\');
    expect(cell('Ã©')).toBe('é');
    expect(cell('日本語 ö')).toBe('日本語 ö');
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
    expect(row(event({ level: fits }))).toMatchObject({ level: fits });
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

  it('validates without writing a row for JSON uploads (no row buffer): the record stays parsed, repaired', () => {
    const good: JsonText = { text: event({ artist: 'BjÃ¶rk', song: '日本語', userId: '4' }), line: 2 };
    expect(validateRecord(EVENT_SOURCE, good, 'f')).toBeUndefined();
    expect(good.value).toMatchObject({ artist: 'Björk', song: '日本語' });
    expect(validateRecord(EVENT_SOURCE, { text: event({ userId: 'x' }), line: 3 }, 'f')).toMatchObject({ line: 3, reason: expect.stringMatching(/userId/) });
    expect(validateRecord(EVENT_SOURCE, { text: event({ page: 'NextSong', sessionId: null }), line: 4 }, 'f')).toMatchObject({ line: 4, reason: expect.stringMatching(/NextSong/) });
  });

  it('takes text of any length in a field without a size', () => {
    const free: SourceSpec = { name: 'events', table: 'staging_events', fields: [{ json: 't', column: 't', type: 'string' }] };
    const long = 'x'.repeat(100_000);
    expect(stagedRow(free, { text: JSON.stringify({ t: long }), line: 1 }, 'f')).toMatchObject({ t: long });
  });

  it('accepts song records, with nulls where the Million Song data has them', () => {
    expect(row(song({ artist_latitude: null, year: 0 }), SONG_SOURCE)).toMatchObject({ artist_latitude: null, year: 0, source_line: 7 });
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
    // Letters whose UTF-8 has a byte 0x80–0x9F (Å is C3 85): garbled twice, the step between holds
    // that byte as a C1 control character, and the repair still goes through it (names from the real logs).
    for (const name of ['Kristofer Åström', 'Étienne Daho', 'Ángeles del Infierno', 'EG GLEÐIST SO HVØRT JÓLAKVØLD', 'VÁNDORMADÁR']) {
      const garbled = Buffer.from(Buffer.from(name, 'utf8').toString('latin1'), 'utf8').toString('latin1');
      expect(garbled).toMatch(/[\u0080-\u009f]/);
      expect(repairMojibake(garbled)).toBe(name);
      expect(repairMojibake(Buffer.from(name, 'utf8').toString('latin1'))).toBe(name);
    }
    const stats = { repaired: 0 };
    const r = stagedRow(EVENT_SOURCE, { text: JSON.stringify({ page: 'Home', ts: 1, userId: '', artist: twice, song: 'plain' }), line: 1 }, 'f', stats);
    expect(r).toMatchObject({ artist: 'Björk', song: 'plain' });
    expect(stats.repaired).toBe(1);
  });

  it.each(['Beyoncé', 'Mötley Crüe', 'Sigur Rós', 'Motörhead', 'naïve café', 'ÃÂ', 'Ã Ã', 'Ã©\u0001', '日本語 Ã©', 'plain ASCII'])('leaves %s as it is', async (text) => {
    const { repairMojibake } = await import('../src/etl/read/records.js');
    expect(repairMojibake(text)).toBe(text);
  });
});
