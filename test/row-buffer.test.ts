import { describe, expect, it } from 'vitest';
import { RowBuffer } from '../src/etl/read/row-buffer.js';

const KiB = 1024;

describe('RowBuffer', () => {
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
