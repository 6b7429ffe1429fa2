import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { JsonSplitter, type JsonText } from './json-records.js';

/** A data file found under a source directory. */
export interface DataFile {
  /** The path to open and to name in messages. */
  path: string;
  /** Relative to the source directory: the file's identity in the manifest. */
  relPath: string;
  size: number;
  /** Modification time: with the size, tells a file that has not changed without reading it. */
  mtimeMs: number;
  /** SHA-256 of the bytes, hex: known once the file has been read (staged, or checked against the manifest). */
  hash?: string;
}

const DATA_FILE = /\.json(\.gz)?$/i;

/** Lists `*.json` and `*.json.gz` files below `dir`, recursively, in path order, with size and mtime. */
export async function listDataFiles(dir: string, setting: string): Promise<DataFile[]> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new Error(`${setting} directory not found: ${dir}`);
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && DATA_FILE.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const out: DataFile[] = [];
  for (let i = 0; i < files.length; i += 256) {
    // Stat in batches: thousands of small song files, without thousands of open requests at once.
    const batch = files.slice(i, i + 256);
    const stats = await Promise.all(batch.map((p) => fs.stat(p)));
    batch.forEach((p, j) => {
      const { size, mtimeMs } = stats[j]!;
      out.push({ path: p, relPath: path.relative(dir, p).split(path.sep).join('/'), size, mtimeMs: Math.trunc(mtimeMs) });
    });
  }
  return out;
}

/** SHA-256 of a file's bytes, streamed. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const SMALL_FILE = 1 << 20;

/**
 * Streams a data file's top-level JSON values, gunzipping `.gz` files, a chunk's worth at a time,
 * and sets `file.hash` from the bytes it read.
 */
export async function* readJsonTexts(
  file: DataFile,
  onBytes?: (n: number) => void,
  preloaded?: Promise<Buffer>,
): AsyncGenerator<JsonText[]> {
  const gzipped = file.path.toLowerCase().endsWith('.gz');
  const splitter = new JsonSplitter();
  const hash = createHash('sha256');
  try {
    if (file.size < SMALL_FILE) {
      // Small files (a song file is a few hundred bytes) in one read: a stream per file costs more than the file.
      const bytes = await (preloaded ?? fs.readFile(file.path));
      onBytes?.(bytes.length);
      file.hash = hash.update(bytes).digest('hex');
      const values = splitter.push((gzipped ? gunzipSync(bytes) : bytes).toString('utf8'));
      yield [...values, ...splitter.end()];
      return;
    }
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        onBytes?.(chunk.length);
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const stages = [createReadStream(file.path, { highWaterMark: 1 << 20 }), counter];
    if (gzipped) stages.push(createGunzip());
    // Any stage's error ends the text stream, so it surfaces in the loop below.
    const text = stages.reduce((prev, next) => prev.pipe(next as Transform)) as Transform;
    stages.forEach((s) => s.on('error', (e: Error) => text.destroy(e)));
    text.setEncoding('utf8');
    for await (const chunk of text) {
      const values = splitter.push(chunk as string);
      if (values.length) yield values;
    }
    file.hash = hash.digest('hex');
  } catch (error) {
    throw new Error(`${file.path}: cannot read: ${(error as Error).message}`);
  }
  const rest = splitter.end();
  if (rest.length) yield rest;
}

/**
 * The files in order, each with its contents already being read when it is small: thousands of
 * song files are read `ahead` at a time instead of one after another.
 */
export async function* withReadAhead(files: DataFile[], ahead = 32): AsyncGenerator<{ file: DataFile; bytes?: Promise<Buffer> }> {
  const read = (f: DataFile | undefined) => {
    if (!f || f.size >= SMALL_FILE) return undefined;
    const bytes = fs.readFile(f.path);
    bytes.catch(() => {}); // surfaces when awaited, in file order
    return bytes;
  };
  const queue = files.slice(0, ahead).map(read);
  for (let i = 0; i < files.length; i++) {
    queue.push(read(files[i + ahead]));
    yield { file: files[i]!, bytes: queue.shift() };
  }
}
