import { createHash } from 'node:crypto';
import { createReadStream, type Dirent, readdirSync, readFile, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gunzipSync } from 'node:zlib';
import { median } from '../../stats.js';
import { isObjectLine, JsonSplitter, type JsonText } from './json-records.js';

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

/**
 * The `*.json` and `*.json.gz` files below `dir`, recursively, in path order, with size and mtime,
 * a batch at a time: memory holds a batch and the directories being walked, not every file (a
 * million song files). Directories are read synchronously, with an explicit stack instead of nested
 * generators: for the 15,000 song files in 14,160 directories of the benchmark that takes 0.17–0.23 s,
 * where nested generators took 0.26–0.39 s and Node 20's async `readdir({ recursive })` with a stat per file 0.7 s.
 */
export async function* walkDataFiles(dir: string, setting: string, batchSize = 1000): AsyncGenerator<DataFile[]> {
  await checkDirectory(dir, setting);
  let batch: DataFile[] = [];
  // Entries still to visit, the next on top: a directory's entries are pushed in reverse path order.
  const stack: Entry[] = [{ path: dir, relPath: '', isDir: true }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    if (!next.isDir) {
      const { size, mtimeMs } = statSync(next.path);
      batch.push({ path: next.path, relPath: next.relPath, size, mtimeMs: Math.trunc(mtimeMs) });
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
      continue;
    }
    const entries = readdirSync(next.path, { withFileTypes: true }).filter((e) => e.isDirectory() || (e.isFile() && DATA_FILE.test(e.name)));
    // In the order of full paths: a directory sorts as its name followed by the separator, so
    // "a.json" comes before "a/b.json", as sorting the paths would put them.
    const key = (e: Dirent) => (e.isDirectory() ? `${e.name}/` : e.name);
    if (entries.length > 1) entries.sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
    for (const e of entries) {
      // path.join for the root's entries (it normalises "./" and trailing separators); below them,
      // names join as they are (they hold no separators).
      stack.push({ path: next.relPath ? `${next.path}${path.sep}${e.name}` : path.join(next.path, e.name), relPath: next.relPath ? `${next.relPath}/${e.name}` : e.name, isDir: e.isDirectory() });
    }
  }
  if (batch.length) yield batch;
}

/** Fails, naming the setting, unless `dir` is a directory. */
export async function checkDirectory(dir: string, setting: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new Error(`${setting} directory not found: ${dir}`);
}

/** A file or directory the walk has still to visit. */
interface Entry {
  path: string;
  /** Relative to the walked directory, with `/` between names whatever the platform. */
  relPath: string;
  isDir: boolean;
}

/** SHA-256 of a file's bytes, streamed. */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const SMALL_FILE = 1 << 20;

/**
 * A byte range of a large file that a worker parses by itself, from the start of a line to just
 * after a newline (see splitFile).
 */
export interface FilePart {
  start: number;
  end: number;
}

/**
 * Streams a data file's top-level JSON values, gunzipping `.gz` files, a chunk's worth at a time,
 * and sets `file.hash` from the bytes it read. With `part`, only that range of a plain file is read,
 * its lines numbered as in the whole file, and the hash is left to the caller.
 */
export async function* readJsonTexts(
  file: DataFile,
  onBytes?: (n: number) => void,
  preloaded?: Promise<Buffer>,
  part?: FilePart,
): AsyncGenerator<JsonText[]> {
  const gzipped = file.path.toLowerCase().endsWith('.gz');
  const hash = createHash('sha256');
  try {
    const splitter = new JsonSplitter(part ? 1 + (await countNewlines(file.path, part.start)) : 1);
    if (isSmall(file) && !part) {
      // Small files (a song file is a few hundred bytes) in one read: a stream per file costs more than the file.
      const bytes = await (preloaded ?? readWhole(file.path));
      onBytes?.(bytes.length);
      file.hash = hash.update(bytes).digest('hex');
      // Whole, not line by line: song files are pretty-printed, and their lines are not values.
      yield splitter.split((gzipped ? gunzipSync(bytes) : bytes).toString('utf8'));
      return;
    }
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        onBytes?.(chunk.length);
        // A part's bytes are not the file's: its hash is taken whole by the caller.
        if (!part) hash.update(chunk);
        done(null, chunk);
      },
    });
    // The last part reads to the end, as a whole read does, should the file have grown since it was
    // found. (The cut file's hash is read apart, so it may then cover other bytes than were parsed;
    // the file's size changed, so the next run loads it again.)
    const range = part ? { start: part.start, end: part.end < file.size ? part.end - 1 : undefined } : {};
    const stages = [createReadStream(file.path, { highWaterMark: 1 << 20, ...range }), counter];
    if (gzipped) stages.push(createGunzip());
    // Any stage's error ends the text stream, so it surfaces in the loop below.
    const text = stages.reduce((prev, next) => prev.pipe(next as Transform)) as Transform;
    stages.forEach((s) => s.on('error', (e: Error) => text.destroy(e)));
    const lines = new LineReader();
    for await (const chunk of text) {
      const values: JsonText[] = [];
      lines.push(chunk as Buffer, (line) => splitter.pushLine(line, values));
      if (values.length) yield values;
    }
    // The last line may lack its newline; a character cut off by the end of the file becomes U+FFFD.
    const tail = splitter.push(lines.rest());
    if (tail.length) yield tail;
    if (!part) file.hash = hash.digest('hex');
    const rest = splitter.end();
    if (rest.length) yield rest;
  } catch (error) {
    throw cannotRead(file, error);
  }
}

/** A read error that names the file, as every error reading a data file does. */
export function cannotRead(file: DataFile, error: unknown): Error {
  return new Error(`${file.path}: cannot read: ${(error as Error).message}`);
}

/** The newlines in a file's first `end` bytes. */
async function countNewlines(file: string, end: number): Promise<number> {
  let n = 0;
  if (end <= 0) return n;
  for await (const chunk of createReadStream(file, { start: 0, end: end - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) n++;
  }
  return n;
}

/** How far past a cut point splitFile looks for a line to cut after. */
const CUT_SEARCH = 1 << 20;

/**
 * Cuts a large plain file into up to `parts` ranges of about equal size that parse, each by itself,
 * into exactly the values the whole file gives: a range ends just after a line that starts with `{`
 * and is a whole JSON object. Whatever came before it, the splitter is at the top level after such
 * a line (json-records.ts: a whole object line inside an unfinished value ends that value as cut
 * off), so the next range starts as a fresh splitter would. Where no such line is found within
 * 1 MiB of a cut point (a pretty-printed file), there is no cut; a gzipped file is not cut.
 */
export async function splitFile(file: DataFile, parts: number): Promise<FilePart[]> {
  if (file.path.toLowerCase().endsWith('.gz')) return [{ start: 0, end: file.size }];
  let cuts: number[];
  try {
    const handle = await fs.open(file.path);
    // Stryker disable next-line ArrowFunction: equivalent — an unclosed handle holds a descriptor until collected; the parts are the same.
    cuts = await findCuts(handle, file.size, parts).finally(() => handle.close());
  } catch (error) {
    throw cannotRead(file, error);
  }
  const bounds = [0, ...cuts, file.size];
  return bounds.slice(1).map((end, i) => ({ start: bounds[i]!, end }));
}

/** The cut points of splitFile, in order. */
async function findCuts(handle: fs.FileHandle, size: number, parts: number): Promise<number[]> {
  const cuts: number[] = [];
  const window = Buffer.alloc(CUT_SEARCH);
  // Stryker disable next-line EqualityOperator: equivalent — `k <= parts`: the point k = parts is the file's end, with nothing after it to cut (the directive also covers `k >= parts`, which the tests kill).
  for (let k = 1; k < parts; k++) {
    // Read from just before the cut point, so that a line starting at it is found; never before the last cut.
    const from = Math.max(Math.floor((size * k) / parts) - 1, cuts.at(-1) ?? 0);
    const { bytesRead } = await handle.read(window, 0, CUT_SEARCH, from);
    const cut = cutAfterObjectLine(window.subarray(0, bytesRead));
    // Stryker disable next-line ConditionalExpression: equivalent — `cut !== undefined` → true: from + undefined is NaN, never < size (the directive also covers the line's other conditions → true or false, which the tests kill).
    if (cut !== undefined && from + cut < size) cuts.push(from + cut);
  }
  return cuts;
}

/** Where, in bytes that may start mid-line, the first whole line that is an object starting with `{` ends (after its newline). */
function cutAfterObjectLine(bytes: Buffer): number | undefined {
  for (let nl = bytes.indexOf(NEWLINE); nl >= 0; ) {
    const end = bytes.indexOf(NEWLINE, nl + 1);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent — `end <= 0` (end is never 0: it follows nl) and → false (at -1 the text read is empty, no object, and the loop ends); the directive also covers → true and `end >= 0`, which the tests kill.
    if (end < 0) return undefined;
    if (bytes[nl + 1] === OPEN_BRACE && isObjectLine(bytes.toString('utf8', nl + 1, end))) return end + 1;
    nl = end;
  }
  return undefined;
}

const OPEN_BRACE = 0x7b;

/**
 * Splits bytes into lines and decodes each line by itself (bad bytes become U+FFFD, a byte-order
 * mark stays, as for a small file decoded whole): a line of ASCII (most log lines, even in
 * a file with some accented names) becomes a one-byte string, which JSON.parse and everything after
 * it handle faster than the two-byte string a whole chunk with one "ö" in it decodes to. A newline
 * byte is never part of a multi-byte UTF-8 character, so this decodes exactly as the whole stream.
 */
class LineReader {
  /** The unfinished line: chunks kept until its newline arrives (joined once, however long the line). */
  private pending: Buffer[] = [];

  /** Hands each line that `chunk` completes, without its newline, to `onLine`. */
  push(chunk: Buffer, onLine: (line: string) => void): void {
    let pos = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, pos)) {
      if (this.pending.length) {
        this.pending.push(chunk.subarray(0, nl));
        onLine(Buffer.concat(this.pending).toString('utf8'));
        this.pending = [];
      } else {
        onLine(chunk.toString('utf8', pos, nl));
      }
      pos = nl + 1;
    }
    if (pos < chunk.length) this.pending.push(chunk.subarray(pos));
  }

  /** The text after the last newline. */
  rest(): string {
    const text = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    return text;
  }
}

const NEWLINE = 0x0a;

/** Whether a file is read whole (see readJsonTexts) rather than streamed. */
export const isSmall = (file: DataFile) => file.size < SMALL_FILE;

/**
 * A small file's bytes, read by libuv's threads as fs/promises' readFile is, without the FileHandle
 * it makes per file: 15,000 song files took 0.5 s of this thread's CPU instead of 0.85 s.
 */
const readWhole = promisify(readFile);

/** Reads of small files taken in turn before their median time decides whether to read ahead in parallel (`slowReadMs`, which tests set). */
const SAMPLE_READS = 16;
/** Reads in turn between two turns of the event loop. */
const YIELD_EVERY = 64;
/** A median read time above this is the disk's, not the page cache's (there a song file takes 5–15 µs). */
const SLOW_READ_MS = 0.1;

/**
 * The contents of small files, by index. They are read synchronously, one when it is asked for,
 * while reads are fast (the page cache): 15,000 song files took 0.14–0.2 s of CPU read so, and
 * 0.39–0.88 s read by libuv's threads (an open, fstat, read and close each, every one a round trip
 * between threads). Once the first SAMPLE_READS reads take a median above SLOW_READ_MS (a cold disk, where
 * waiting for each read in turn costs more than the round trips: 15,000 files with the page cache
 * dropped, 0.60 s read in turn, 0.35–0.42 s in parallel), the rest are read `ahead` files before they
 * are asked for, in parallel. Large files get undefined (streamed).
 */
export function readAhead(files: DataFile[], { ahead = 32, slowReadMs = SLOW_READ_MS } = {}): (index: number) => Promise<Buffer> | undefined {
  const reads = new Map<number, Promise<Buffer>>();
  let started = 0;
  const sampled: number[] = [];
  let inTurn = 0;
  let parallel = false;
  return (index) => {
    const file = files[index];
    if (!parallel) {
      if (!file || !isSmall(file)) return undefined;
      const t0 = sampled.length < SAMPLE_READS ? performance.now() : undefined;
      let bytes: Promise<Buffer>;
      try {
        bytes = Promise.resolve(readFileSync(file.path));
      } catch (error) {
        bytes = Promise.reject(error as Error);
        bytes.catch(() => {}); // surfaces when awaited, with the file's name
      }
      // Reads in turn never wait for I/O, so the caller's loop would never give way to the event loop,
      // where V8 runs the tasks that free collected buffers: 100,000 song files then peaked 9 MB higher.
      if (++inTurn % YIELD_EVERY === 0) {
        const read = bytes;
        bytes = new Promise((resolve) => setImmediate(resolve, read));
        bytes.catch(() => {});
      }
      if (t0 !== undefined) {
        sampled.push(performance.now() - t0);
        parallel = sampled.length === SAMPLE_READS && median(sampled) > slowReadMs;
        if (parallel) started = index + 1; // reading ahead starts after this file
      }
      return bytes;
    }
    for (started = Math.max(started, index); started < Math.min(files.length, index + ahead); started++) {
      const f = files[started]!;
      if (!isSmall(f)) continue;
      const bytes = readWhole(f.path);
      bytes.catch(() => {}); // surfaces when awaited, in file order
      reads.set(started, bytes);
    }
    const bytes = reads.get(index);
    reads.delete(index);
    return bytes;
  };
}
