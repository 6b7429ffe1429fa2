import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../types/database.js';
import type { DataFile } from './files.js';

type Source = 'songs' | 'events';

/** The files not yet loaded with their current content (new or changed since the last load). */
export async function filesToLoad(db: Kysely<Database>, source: Source, files: DataFile[]): Promise<DataFile[]> {
  const loaded = await db.selectFrom('loaded_files').select(['path', 'hash']).where('source', '=', source).execute();
  const known = new Map(loaded.map((f) => [f.path, f.hash]));
  return files.filter((f) => known.get(f.relPath) !== f.hash);
}

/** Records files as loaded, in the transaction that publishes their rows. */
export async function markLoaded(trx: Transaction<Database>, runId: string, files: { source: Source; file: DataFile }[]): Promise<void> {
  const now = new Date();
  for (let i = 0; i < files.length; i += 500) {
    const rows = files.slice(i, i + 500).map(({ source, file }) => ({
      source,
      path: file.relPath,
      size: file.size,
      hash: file.hash,
      run_id: runId,
      loaded_at: now,
    }));
    await trx.deleteFrom('loaded_files').where((eb) => eb.or(rows.map((r) => eb.and({ source: r.source, path: r.path })))).execute();
    await trx.insertInto('loaded_files').values(rows).execute();
  }
}
