import { EVENT_SOURCE, SONG_SOURCE, type SourceSpec } from '../../types/raw.js';
import { type DataFile, type FilePart, readJsonTexts } from './files.js';
import { type Reject, validateRecord } from './records.js';
import type { RowBuffer } from './row-buffer.js';

/** What parsing one file gave, besides its COPY rows. */
export interface ParsedFile {
  read: number;
  staged: number;
  /** Texts repaired from mis-decoded UTF-8. */
  repaired: number;
  rejects: Reject[];
  hash?: string;
}

/** The source specs by name: what crosses to a worker thread is the name (specs hold functions). */
export const SOURCES: Record<SourceSpec['name'], SourceSpec> = { songs: SONG_SOURCE, events: EVENT_SOURCE };

/** How parseFile reads and what it makes. */
export interface ParseOptions {
  /** The file's bytes, already being read (small files; see readAhead). */
  preloaded?: Promise<Buffer>;
  onBytes?: (n: number) => void;
  /** Binary COPY rows (the default), or the good records as JSON lines, which is what Redshift's COPY is given. */
  as?: 'copy' | 'json';
  /** Only this range of a large file (see splitFile); the file's hash is then not taken. */
  part?: FilePart;
}

/**
 * Parses one data file (or part of one) into `out`, flushed a read chunk at a time (awaited, so a
 * slow consumer slows the parser and memory stays flat), and returns its counts and rejects. The
 * same function runs inline and in the worker threads.
 */
export async function parseFile(source: SourceSpec, file: DataFile, out: RowBuffer, options: ParseOptions = {}): Promise<ParsedFile> {
  const { as = 'copy' } = options;
  const parsed: ParsedFile = { read: 0, staged: 0, repaired: 0, rejects: [] };
  for await (const texts of readJsonTexts(file, options.onBytes, options.preloaded, options.part)) {
    for (const text of texts) {
      parsed.read++;
      const rejected = validateRecord(source, text, file.path, parsed, as === 'copy' ? out : undefined);
      if (rejected) {
        parsed.rejects.push(rejected);
      } else {
        parsed.staged++;
        if (as === 'json') out.add(`${JSON.stringify(text.value)}\n`);
      }
    }
    await out.flush();
  }
  parsed.hash = file.hash;
  return parsed;
}

/** One file's result from its parts' results, in file order, with the whole file's hash. */
export function joinParts(parts: ParsedFile[], hash: string): ParsedFile {
  return {
    read: parts.reduce((n, p) => n + p.read, 0),
    staged: parts.reduce((n, p) => n + p.staged, 0),
    repaired: parts.reduce((n, p) => n + p.repaired, 0),
    rejects: parts.flatMap((p) => p.rejects),
    hash,
  };
}
