import { statSync, readdirSync } from 'node:fs';
import path from 'node:path';

const DATA_FILE = /\.json(\.gz)?$/i;

/**
 * Checks an input directory before a run: it exists, is a directory, and (unless `allowEmpty`)
 * holds at least one data file, since a directory without any is nearly always a wrong path.
 * s3:// prefixes are left to the Redshift load.
 */
export function checkInputDir(dir: string, label: string, allowEmpty: boolean): void {
  if (dir.startsWith('s3://')) return;
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new Error(`${label} directory not found: ${dir}`);
  }
  if (!stat.isDirectory()) throw new Error(`${label} directory ${dir} is a file, not a directory: give the directory that holds the .json files.`);
  if (!allowEmpty && !hasDataFile(dir)) {
    throw new Error(`${label} directory ${dir} holds no data files (*.json, *.json.gz): check the path, or pass --allow-empty to load nothing from it.`);
  }
}

/** Stops at the first data file found, so a large tree costs little. */
function hasDataFile(dir: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && DATA_FILE.test(entry.name)) return true;
    if (entry.isDirectory() && hasDataFile(path.join(dir, entry.name))) return true;
  }
  return false;
}
