import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type DataFile, type FilePart, readAhead, readJsonTexts, splitFile, walkDataFiles } from '../src/etl/read/files.js';
import { JsonSplitter, type JsonText } from '../src/etl/read/json-records.js';

const MiB = 1 << 20;

/** A file's records as the reader streams them (files of 1 MiB and more are read a MiB at a time). */
async function streamed(file: string): Promise<JsonText[]> {
  const size = (await fs.stat(file)).size;
  const out: JsonText[] = [];
  for await (const texts of readJsonTexts({ path: file, relPath: path.basename(file), size, mtimeMs: 0 })) out.push(...texts);
  return out;
}

/** The same bytes decoded whole (as TextDecoder decodes: bad bytes become U+FFFD) and split in one piece. */
function whole(bytes: Buffer): JsonText[] {
  const s = new JsonSplitter();
  return [...s.push(new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes)), ...s.end()];
}

/** Bytes that straddle the reader's 1 MiB reads in every awkward way. */
function awkwardBytes(): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  const add = (text: string | Buffer) => {
    const b = typeof text === 'string' ? Buffer.from(text) : text;
    parts.push(b);
    size += b.length;
  };
  // Each 1 MiB boundary falls inside a multi-byte character: pad up to one byte before it, then "é" (2 bytes).
  for (let boundary = MiB; boundary <= 3 * MiB; boundary += MiB) {
    const line = (pad: number) => `{"artist":"Bj\u00f6rk ${'x'.repeat(Math.max(0, pad))}","n":${boundary}}\r\n`;
    while (size + 200 < boundary - 1) add(line(Math.min(150, boundary - 1 - size - 200)));
    add(`{"s":"${'y'.repeat(Math.max(0, boundary - 1 - size - 6))}`);
    add('é"}\n');
  }
  // A line longer than a read, pretty-printed records, an invalid byte, a blank line, junk, and no final newline.
  add(`{"long":"${'z'.repeat(MiB + 10)}"}\n`);
  add('{\n  "pretty": 1,\n  "n": [1, 2]\n}\n');
  add(Buffer.from([0x7b, 0x22, 0x62, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x22, 0x7d, 0x0a])); // {"b":"\xff\xc3"}
  add('\n   \nnot json\n');
  add('{"last":"ü"}');
  return Buffer.concat(parts);
}

describe('readJsonTexts: a large file, streamed line by line', () => {
  it('gives exactly the records of the whole text decoded at once, plain and gzipped', async () => {
    const bytes = awkwardBytes();
    expect(bytes.length).toBeGreaterThan(4 * MiB);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-read-'));
    await fs.writeFile(path.join(dir, 'big.json'), bytes);
    await fs.writeFile(path.join(dir, 'big.json.gz'), gzipSync(bytes));
    const expected = whole(bytes);
    // What the expectation holds, read off the bytes: one record per line but the pretty one's four, blank lines none.
    const lines = bytes.toString('latin1').split('\n');
    const blank = lines.filter((l) => l.trim() === '').length;
    expect(expected).toHaveLength(lines.length - blank - 3);
    expect(expected.some((r) => r.text.includes('\ufffd'))).toBe(true);
    expect(expected.at(-1)).toMatchObject({ text: '{"last":"ü"}', line: lines.length });
    expect(await streamed(path.join(dir, 'big.json'))).toEqual(expected);
    expect(await streamed(path.join(dir, 'big.json.gz'))).toEqual(expected);
  });
});

describe('walkDataFiles', () => {
  /** Every file below `dir` by a plain recursive listing, relative with '/', sorted as strings. */
  async function listed(dir: string): Promise<string[]> {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split(path.sep).join('/'))
      .sort();
  }

  it('finds the .json and .json.gz files below a directory in path order, in batches, with size and mtime', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walk-'));
    // Names around the separator: '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < 'b', so a-b.json, a.json,
    // the a/… paths, then ab.json; capitals before lower case. Other names and empty directories are skipped.
    const files = ['a.json', 'a-b.json', 'a/b.json', 'a/a/z.json', 'ab.json', 'B.json', 'c/d/e/f.json.gz', 'c/d/E.JSON', 'a/notes.txt', 'a/b.jsonl'];
    for (const f of files) {
      await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await fs.writeFile(path.join(dir, f), `{"f":"${f}"}`);
    }
    await fs.mkdir(path.join(dir, 'empty/dir'), { recursive: true });
    const expected = (await listed(dir)).filter((f) => /\.json(\.gz)?$/i.test(f));
    expect(expected).toHaveLength(8);

    // A trailing separator in the setting changes nothing but the batch sizes asked for.
    for (const [root, batchSize] of [[dir, 3], [`${dir}${path.sep}`, 1000]] as const) {
      const batches: DataFile[][] = [];
      for await (const b of walkDataFiles(root, 'Song (--songs)', batchSize)) batches.push(b);
      expect(batches.map((b) => b.length)).toEqual(batchSize === 3 ? [3, 3, 2] : [8]);
      const found = batches.flat();
      expect(found.map((f) => f.relPath)).toEqual(expected);
      for (const f of found) {
        expect(f.path).toBe(path.join(dir, ...f.relPath.split('/')));
        const st = await fs.stat(f.path);
        expect([f.size, f.mtimeMs]).toEqual([st.size, Math.trunc(st.mtimeMs)]);
      }
    }
    await expect(walkDataFiles(path.join(dir, 'missing'), 'Song (--songs)').next()).rejects.toThrow(`Song (--songs) directory not found: ${path.join(dir, 'missing')}`);
  });
});

describe('readAhead', () => {
  it('gives each small file its bytes, in turn or read ahead once reads are slow; a large file none; a missing file its error', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ahead-'));
    const files: DataFile[] = [];
    // More files than the reads it times before it chooses, with a large file after the choice, and
    // missing files: one read in parallel or in turn, one at the 64th read in turn, where it gives way
    // to the event loop (a rejection left unhandled there would fail this test).
    const missing = [40, 64];
    for (let i = 0; i < 100; i++) {
      const file = path.join(dir, `${String(i).padStart(2, '0')}.json`);
      const size = i === 30 ? MiB + 1 : 20 + i;
      if (!missing.includes(i)) await fs.writeFile(file, Buffer.alloc(size, 48 + (i % 10)));
      files.push({ path: file, relPath: path.basename(file), size, mtimeMs: 0 });
    }
    for (const slowReadMs of [Infinity, 0]) {
      const read = readAhead(files, { ahead: 8, slowReadMs });
      for (const [i, f] of files.entries()) {
        const bytes = read(i);
        if (i === 30) expect(bytes, 'large').toBeUndefined();
        else if (missing.includes(i)) {
          // Rejected when asked for, and only awaited a moment later, as the stager does.
          await new Promise((resolve) => setImmediate(resolve));
          await expect(bytes, 'missing').rejects.toThrow(/ENOENT/);
        }
        else expect(await bytes, `${f.relPath}, slowReadMs ${slowReadMs}`).toEqual(await fs.readFile(f.path));
      }
    }
  });
});

describe('splitFile', () => {
  /** The values of each part of a file, read by itself, joined in order. */
  async function byParts(file: DataFile, parts: FilePart[]): Promise<JsonText[]> {
    const out: JsonText[] = [];
    for (const part of parts) for await (const texts of readJsonTexts(file, undefined, undefined, part)) out.push(...texts);
    return out;
  }

  async function dataFile(name: string, content: string | Buffer): Promise<DataFile> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'split-'));
    const p = path.join(dir, name);
    await fs.writeFile(p, content);
    return { path: p, relPath: name, size: (await fs.stat(p)).size, mtimeMs: 0 };
  }

  it('cuts after whole object lines only, into parts that read as the whole file does, line numbers and broken records included', async () => {
    // Lines of every kind the splitter handles, repeated so that cut points fall among all of them.
    const kinds = [
      (i: number) => `{"n":${i},"artist":"Bj\u00f6rk"}`,
      (i: number) => `{"n":${i}}\r`, // CRLF
      () => '',
      (i: number) => `  {"indented":${i}}`, // not cut after (it does not start with "{"), still a value
      (i: number) => `{"pretty":\n  ${i},\n  "x": [1,\n 2]}`,
      (i: number) => `{"open": [${i},`, // unbalanced: cut off by the next whole object line
      (i: number) => `{"a":${i}} {"b":${i}}`, // two values on a line
      () => 'junk',
      () => '[1, 2]',
      (i: number) => `{"s":"${'x'.repeat(i % 300)}\\"}"}`,
    ];
    const lines = Array.from({ length: 3000 }, (_, i) => kinds[(i * 7) % kinds.length]!(i));
    // A blank first line: the file's first byte is a newline, which line numbers must count.
    const file = await dataFile('mixed.json', `\n\ufeff${lines.join('\n')}\n{"last":true}`);
    const whole = await streamed(file.path);
    expect(whole.some((t) => t.problem?.includes('cut off'))).toBe(true);

    for (const n of [2, 3, 4, 7, 16]) {
      const parts = await splitFile(file, n);
      // Object lines are a few hundred bytes apart here: every cut is found, just past its point.
      expect(parts).toHaveLength(n);
      for (const [k, part] of parts.slice(1).entries()) {
        const point = Math.floor((file.size * (k + 1)) / n);
        expect(part.start).toBeGreaterThanOrEqual(point);
        expect(part.start - point).toBeLessThan(4096);
      }
      // Contiguous, each ending just after a newline that follows a whole object line starting with "{".
      expect(parts[0]!.start).toBe(0);
      expect(parts.at(-1)!.end).toBe(file.size);
      const bytes = await fs.readFile(file.path);
      for (const [i, part] of parts.entries()) {
        expect(part.end).toBeGreaterThan(part.start);
        if (i > 0) expect(part.start).toBe(parts[i - 1]!.end);
        if (i === parts.length - 1) continue;
        expect(bytes[part.end - 1]).toBe(0x0a);
        const line = bytes.toString('utf8', bytes.lastIndexOf(0x0a, part.end - 2) + 1, part.end - 1);
        expect(line.startsWith('{')).toBe(true);
        expect(typeof JSON.parse(line)).toBe('object');
      }
      expect(await byParts(file, parts)).toEqual(whole);
    }
  });

  it('never makes an empty part: few long lines, more parts asked than lines, the last line an object', async () => {
    const lines = Array.from({ length: 4 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(90) }));
    const file = await dataFile('four.json', `${lines.join('\n')}\n`);
    const parts = await splitFile(file, 16);
    // The line a cut point falls in is not known to start a line: the first cut is after line 2.
    // Later points fall before the cut already made and find only the last line, after which
    // nothing would be left: one cut, not a repeat of it nor an empty part.
    const ends = lines.map((_, i) => lines.slice(0, i + 1).join('\n').length + 1);
    expect(parts).toEqual([{ start: 0, end: ends[1] }, { start: ends[1], end: file.size }]);
    expect(await byParts(file, parts)).toEqual(await streamed(file.path));
    // A cut point right after a newline finds the line that starts there.
    const three = ['{"a":"1111"}', '{"b":"2222"}', '{"c":"3333"}'].join('\n');
    const even = await dataFile('three.json', `${three}\n`);
    expect(await splitFile(even, 3)).toEqual([{ start: 0, end: 26 }, { start: 26, end: 39 }]);
  });

  it('keeps cuts increasing when a cut lands past the next cut point (a long stretch without object lines)', async () => {
    // 600 KB pretty-printed, then short object lines: the first cut points all find the same first object line.
    const pretty = Array.from({ length: 6000 }, (_, i) => JSON.stringify({ n: i, pad: 'x'.repeat(40) }, null, 2)).join('\n');
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ m: i }));
    const file = await dataFile('long.json', `${pretty}\n${lines.join('\n')}\n`);
    const parts = await splitFile(file, 8);
    expect(parts.length).toBeGreaterThan(2);
    for (const [i, part] of parts.entries()) {
      expect(part.end).toBeGreaterThan(part.start);
      if (i) expect(part.start).toBe(parts[i - 1]!.end);
    }
    const texts = await byParts(file, parts);
    expect(texts).toHaveLength(6000 + 5000);
    expect(texts).toEqual(await streamed(file.path));
  });

  it('reads the last part to the end of the file, as a whole read would, should the file have grown since it was found', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i }));
    const file = await dataFile('growing.json', `${lines.join('\n')}\n`);
    const parts = await splitFile(file, 2);
    expect(parts).toHaveLength(2);
    await fs.appendFile(file.path, '{"n":"late"}\n');
    expect(await byParts(file, parts)).toEqual(await streamed(file.path));
  });

  it('leaves whole a pretty-printed file (no line is an object by itself) and a gzipped one', async () => {
    const pretty = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i, name: 'x'.repeat(50) }, null, 2)).join('\n');
    const prettyFile = await dataFile('pretty.json', pretty);
    expect(await splitFile(prettyFile, 4)).toEqual([{ start: 0, end: prettyFile.size }]);
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i })).join('\n');
    const gz = await dataFile('day.json.gz', gzipSync(lines));
    expect(await splitFile(gz, 4)).toEqual([{ start: 0, end: gz.size }]);
    const plain = await dataFile('day.json', lines);
    expect((await splitFile(plain, 4)).length).toBe(4);
    expect(await splitFile(plain, 1)).toEqual([{ start: 0, end: plain.size }]);
    // Judged by the name, as the reader decides to gunzip: a .gz name with plain bytes stays whole.
    const named = await dataFile('day.JSON.GZ', lines);
    expect(await splitFile(named, 4)).toEqual([{ start: 0, end: named.size }]);
    // A file gone since it was found: the error names it, as every read error does.
    const gone = { ...plain, path: `${plain.path}.gone` };
    await expect(splitFile(gone, 2)).rejects.toThrow(`${gone.path}: cannot read: ENOENT`);
  });
});
