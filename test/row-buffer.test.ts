import { describe, expect, it } from 'vitest';
import { RowBuffer } from '../src/etl/read/row-buffer.js';
import { EVENT_SOURCE, type SourceSpec } from '../src/types/raw.js';
import { decodeRows } from './helpers/binary-copy.js';

const KiB = 1024;

describe('RowBuffer: lines of text (JSON uploads)', () => {
  it('sends exactly the rows’ UTF-8 bytes, in order, in buffers of at most 256 KiB unless a row is longer', async () => {
    const sent: Buffer[] = [];
    const out = new RowBuffer(async (b) => void sent.push(b));
    const rows: string[] = [];
    for (let i = 0; i < 5000; i++) rows.push(`${i}\tBj\u00f6rk \u{1f3b5} ${'x'.repeat(i % 97)}\n`);
    rows.push(`${'é'.repeat(300 * KiB)}\n`); // longer than a buffer by itself
    rows.push('tail\n');
    for (const row of rows) out.add(row);
    await out.flush();
    const beforeEnd = sent.length;
    expect(Buffer.concat(sent).length).toBeLessThan(Buffer.byteLength(rows.join('')));
    await out.flush(true);
    expect(sent.length).toBeGreaterThan(beforeEnd);
    expect(Buffer.concat(sent).toString('utf8')).toBe(rows.join(''));
    const large = sent.filter((b) => b.length > 256 * KiB);
    expect(large).toHaveLength(1);
    expect(large[0]!.toString('utf8').startsWith(rows.at(-2)!)).toBe(true);
    // Each buffer is its own memory: a consumer may keep or transfer it.
    expect(new Set(sent.map((b) => b.buffer)).size).toBe(sent.length);
  });

  it('writes rows into the same buffer while their worst case (3 bytes per UTF-16 unit) fits in its 256 KiB', async () => {
    const sent: Buffer[] = [];
    const out = new RowBuffer(async (b) => void sent.push(b));
    // 10,000 rows of 10 ASCII bytes: 100,000 bytes, worst case at most 30 more than that: one buffer.
    for (let i = 0; i < 10_000; i++) out.add(`${String(i).padStart(9, '0')}\n`);
    await out.flush(true);
    expect(sent.map((b) => b.length)).toEqual([100_000]);
    // '€' is one UTF-16 unit and 3 UTF-8 bytes (its worst case): 1 + 3 × 87,381 = 262,144 = 256 KiB
    // fills a buffer exactly, so the two rows share one; the next row does not fit and starts another.
    sent.length = 0;
    out.add('a');
    out.add('\u20ac'.repeat(87_381));
    out.add('b');
    await out.flush(true);
    expect(sent.map((b) => b.length)).toEqual([256 * KiB, 1]);
    expect(sent.map(String)).toEqual([`a${'\u20ac'.repeat(87_381)}`, 'b']);
  });

  it('sends nothing for nothing, and a flushed buffer only once', async () => {
    const sent: Buffer[] = [];
    const out = new RowBuffer(async (b) => void sent.push(b));
    await out.flush(true);
    expect(sent).toEqual([]);
    out.add('a\n');
    await out.flush(true);
    await out.flush(true);
    expect(sent.map(String)).toEqual(['a\n']);
  });
});

// Rows written a cell at a time into 256 KiB buffers: what crosses a buffer's end, and what a reject
// leaves behind. The rows are read back by the format's rules (helpers/binary-copy.ts).

/** A one-text-column source, so a row is exactly 2 + (4 + n) + 4 + 4 + (4 + 4) bytes. */
const ONE_TEXT: SourceSpec = { name: 'events', table: 'staging_events', fields: [{ json: 't', column: 't', type: 'string' }] };

function collect() {
  const sent: Buffer[] = [];
  const out = new RowBuffer(async (bytes) => void sent.push(Buffer.from(bytes)));
  const write = (text: string, line: number) => {
    out.beginRow(3);
    out.textCell(text, /^[\x20-\x7e]*$/.test(text));
    out.textCell('f.json', true);
    out.int4Cell(line);
  };
  return { out, sent, write };
}

describe('RowBuffer: binary COPY rows', () => {
  it('moves a row that does not fit whole into the next buffer: every buffer holds whole rows', async () => {
    const { out, sent, write } = collect();
    const texts = Array.from({ length: 4000 }, (_, i) => `${'x'.repeat(i % 300)}é${i}`);
    texts.forEach((t, i) => write(t, i));
    await out.flush(true);
    expect(sent.length).toBeGreaterThan(1);
    // Each buffer decodes by itself: no row is split between two.
    const rows = sent.flatMap((bytes) => decodeRows(ONE_TEXT, bytes));
    expect(rows.map((r) => r.t)).toEqual(texts);
    expect(rows.map((r) => r.source_line)).toEqual(texts.map((_, i) => i));
  });

  it('takes a row longer than a whole buffer, first or after others, and sends no empty buffer', async () => {
    for (const before of [[], ['a']]) {
      const { out, sent, write } = collect();
      before.forEach((t, i) => write(t, i));
      const long = 'ü'.repeat(300_000);
      write(long, 2);
      write('b', 3);
      await out.flush(true);
      expect(sent.flatMap((bytes) => decodeRows(ONE_TEXT, bytes)).map((r) => r.t)).toEqual([...before, long, 'b']);
      expect(sent.every((bytes) => bytes.length > 0)).toBe(true);
    }
  });

  it('drops an abandoned row and nothing before it, even when it had moved to a fresh buffer', async () => {
    const { out, sent, write } = collect();
    write('kept', 1);
    out.beginRow(3);
    out.textCell('y'.repeat(400_000), true); // outgrows the buffer: the row moves
    out.abandonRow();
    write('after', 2);
    await out.flush(true);
    expect(sent.flatMap((bytes) => decodeRows(ONE_TEXT, bytes)).map((r) => r.t)).toEqual(['kept', 'after']);
  });

  it('writes integers and doubles at their limits as PostgreSQL reads them', async () => {
    const sent: Buffer[] = [];
    const out = new RowBuffer(async (bytes) => void sent.push(bytes));
    const fields = EVENT_SOURCE.fields;
    out.beginRow(fields.length + 2);
    for (const f of fields) {
      if (f.json === 'ts') out.int8Cell(-(2 ** 53 - 1));
      else if (f.type === 'integer') out.int4Cell(-(2 ** 31));
      else if (f.type === 'double') out.float8Cell(-1.5e-300);
      else out.nullCell();
    }
    out.textCell('f', true);
    out.int4Cell(2 ** 31 - 1);
    await out.flush(true);
    const [row] = decodeRows(EVENT_SOURCE, Buffer.concat(sent));
    expect(row).toMatchObject({ ts: -(2 ** 53 - 1), session_id: -(2 ** 31), length: -1.5e-300, artist: null, source_line: 2 ** 31 - 1 });
  });
});
