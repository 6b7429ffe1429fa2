import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../types/database.js';
import { batches } from './batches.js';
import { stagedFiles } from './file-list.js';
import { type DataFile, hashFile } from '../read/files.js';

type Source = 'songs' | 'events';

/**
 * The files not yet loaded with their current content. A file with the size and mtime it was
 * loaded with is unchanged without reading it (as rsync and make judge); one with the same size
 * but another mtime is hashed, and loaded only if its content differs.
 */
export async function filesToLoad(db: Kysely<Database>, source: Source, files: DataFile[]): Promise<DataFile[]> {
  // Only these files' entries: the manifest may list a million files.
  const known = new Map<string, { size: number; mtime_ms: number; hash: string }>();
  for (const batch of batches(files, 2)) {
    const loaded = await db
      .selectFrom('loaded_files')
      .select(['path', 'size', 'mtime_ms', 'hash'])
      .where('source', '=', source)
      .where('path', 'in', batch.map((f) => f.relPath))
      .execute();
    for (const f of loaded) known.set(f.path, f);
  }
  const load: DataFile[] = [];
  for (const f of files) {
    const seen = known.get(f.relPath);
    if (!seen || seen.size !== f.size) load.push(f);
    else if (seen.mtime_ms !== f.mtimeMs && (await hashFile(f.path)) !== seen.hash) load.push(f);
  }
  return load;
}

/** Records the run's staged files as loaded, in the transaction that publishes their rows. */
export async function markLoaded(trx: Transaction<Database>, runId: string): Promise<void> {
  // A file loaded again replaces its entry.
  await trx
    .deleteFrom('loaded_files')
    .using('etl_file_queue as q')
    .where('q.run_id', '=', runId)
    .whereRef('q.source', '=', 'loaded_files.source')
    .whereRef('q.path', '=', 'loaded_files.path')
    .execute();
  await trx
    .insertInto('loaded_files')
    .columns(['source', 'path', 'size', 'mtime_ms', 'hash', 'run_id', 'loaded_at'])
    .expression(stagedFiles(trx, runId).select((eb) => ['q.source', 'q.path', 'q.size', 'q.mtime_ms', 's.hash', 'q.run_id', eb.val(new Date()).as('loaded_at')]))
    .execute();
}
