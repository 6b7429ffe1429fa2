// Bound parameters per statement: PostgreSQL allows 65,535; half of that leaves room for anything
// a statement adds and keeps each statement's text well under Redshift's 16 MB.
const MAX_PARAMETERS = 30_000;

/** Splits rows into batches for multi-row INSERTs: as many rows per statement as the parameters allow. */
export function* batches<T>(rows: readonly T[], columnsPerRow: number): Generator<T[]> {
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / columnsPerRow));
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}
