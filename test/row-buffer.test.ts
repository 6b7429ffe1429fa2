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
