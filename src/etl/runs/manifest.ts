import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../types/database.js';
import { batches } from './batches.js';
import { type DataFile, hashFile } from '../read/files.js';

type Source = 'songs' | 'events';

/**
 * The files not yet loaded with their current content. A file with the size and mtime it was
 * loaded with is unchanged without reading it (as rsync and make judge); one with the same size
 * but another mtime is hashed, and loaded only if its content differs.
 */
export async function filesToLoad(db: Kysely<Database>, source: Source, files: DataFile[]): Promise<DataFile[]> {
  const loaded = await db.selectFrom('loaded_files').select(['path', 'size', 'mtime_ms', 'hash']).where('source', '=', source).execute();
  const known = new Map(loaded.map((f) => [f.path, f]));
  const load: DataFile[] = [];
  for (const f of files) {
    const seen = known.get(f.relPath);
    if (!seen || seen.size !== f.size) load.push(f);
    else if (seen.mtime_ms !== f.mtimeMs && (await hashFile(f.path)) !== seen.hash) load.push(f);
  }
  return load;
}

/** Records files as loaded, in the transaction that publishes their rows. */
export async function markLoaded(trx: Transaction<Database>, runId: string, files: { source: Source; file: DataFile }[]): Promise<void> {
  const now = new Date();
  // Rows are built a batch at a time: a run may cover hundreds of thousands of files.
  for (const batch of batches(files, 7)) {
    const rows = batch.map(({ source, file }) => ({
      source,
      path: file.relPath,
      size: file.size,
      mtime_ms: file.mtimeMs,
      hash: file.hash ?? '',
      run_id: runId,
      loaded_at: now,
    }));
    for (const source of ['songs', 'events'] as const) {
      const paths = rows.filter((r) => r.source === source).map((r) => r.path);
      if (paths.length) await trx.deleteFrom('loaded_files').where('source', '=', source).where('path', 'in', paths).execute();
    }
    await trx.insertInto('loaded_files').values(rows).execute();
  }
}
