import { EVENT_SOURCE, SONG_SOURCE, type SourceSpec } from '../../types/raw.js';
import { type DataFile, readJsonTexts } from './files.js';
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

/**
 * Parses one data file into binary COPY rows (or, with `as: 'json'`, its good records as JSON lines,
 * which is what Redshift's COPY is given), added to `out` and flushed a read chunk at a time
 * (awaited, so a slow consumer slows the parser and memory stays flat), and returns its counts and
 * rejects. The same function runs inline and in the worker threads.
 */
export async function parseFile(
  source: SourceSpec,
  file: DataFile,
  out: RowBuffer,
  preloaded?: Promise<Buffer>,
  onBytes?: (n: number) => void,
  as: 'copy' | 'json' = 'copy',
): Promise<ParsedFile> {
  const parsed: ParsedFile = { read: 0, staged: 0, repaired: 0, rejects: [] };
  for await (const texts of readJsonTexts(file, onBytes, preloaded)) {
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
