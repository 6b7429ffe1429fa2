import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { JsonSplitter, type JsonText } from './json-records.js';

/** A data file found under a source directory. */
export interface DataFile {
  /** The path to open and to name in messages. */
  path: string;
  /** Relative to the source directory: the file's identity in the manifest. */
  relPath: string;
  size: number;
  /** SHA-256 of the bytes, hex. */
  hash: string;
}

const DATA_FILE = /\.json(\.gz)?$/i;

/** Lists `*.json` and `*.json.gz` files below `dir`, recursively, in path order, with size and hash. */
export async function listDataFiles(dir: string, setting: string): Promise<DataFile[]> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new Error(`${setting} directory not found: ${dir}`);
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && DATA_FILE.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const out: DataFile[] = [];
  for (const p of files) {
    out.push({ path: p, relPath: path.relative(dir, p).split(path.sep).join('/'), size: (await fs.stat(p)).size, hash: await hashFile(p) });
  }
  return out;
}

/** SHA-256 of a file's bytes, streamed. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Streams a data file's top-level JSON values, gunzipping `.gz` files, a chunk's worth at a time. */
export async function* readJsonTexts(file: string, onBytes?: (n: number) => void): AsyncGenerator<JsonText[]> {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  const stages = [createReadStream(file, { highWaterMark: 1 << 20 }), counter];
  if (file.toLowerCase().endsWith('.gz')) stages.push(createGunzip());
  // Any stage's error ends the text stream, so it surfaces in the loop below.
  const text = stages.reduce((prev, next) => prev.pipe(next as Transform)) as Transform;
  stages.forEach((s) => s.on('error', (e: Error) => text.destroy(e)));
  text.setEncoding('utf8');
  const splitter = new JsonSplitter();
  try {
    for await (const chunk of text) {
      const values = splitter.push(chunk as string);
      if (values.length) yield values;
    }
  } catch (error) {
    throw new Error(`${file}: cannot read: ${(error as Error).message}`);
  }
  const rest = splitter.end();
  if (rest.length) yield rest;
}
