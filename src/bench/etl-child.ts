// One benchmark measurement in a process of its own, so that its peak RSS is the ETL's alone.
// Usage: etl-child.ts <home> <data dir> [<extra day dir>]; prints one JSON object. Without the
// extra day, only the full run and its peak RSS (the memory-in-files measurement).
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { limitHeapGrowth } from '../cli/heap.js';
import { loadConfig } from '../config.js';
import { openWarehouse, type Warehouse } from '../db/connection.js';
import { migrateToLatest } from '../db/migrate.js';
import { type Progress, runEtl } from '../etl/pipeline.js';
import { walkDataFiles } from '../etl/read/files.js';
import { stageLocalFiles } from '../etl/stage/postgres.js';
import { EVENT_SOURCE, SONG_SOURCE } from '../types/raw.js';
import { median } from '../stats.js';

const [home, data, extraDay] = process.argv.slice(2) as [string, string, string | undefined];
limitHeapGrowth(); // as the sparkify command does

/** Seconds per progress phase of one run. */
function phaseClock() {
  const seconds: Record<string, number> = {};
  let current: string | undefined;
  let since = performance.now();
  const close = () => {
    if (current) seconds[current] = (seconds[current] ?? 0) + (performance.now() - since) / 1000;
  };
  const progress: Progress = {
    phase(name) {
      close();
      const names: Record<string, string> = { Checking: 'checks', 'Recording the run': 'bookkeeping', 'Finding new and changed files': 'find_files' };
      // 'Transforming' only opens the per-table phases.
      current = name === 'Transforming' ? undefined : name.startsWith('Staging') ? 'stage' : (names[name] ?? name.replace(/^Loading /, ''));
      since = performance.now();
    },
    advance() {},
    done() {},
  };
  return { progress, finish: () => (close(), (current = undefined), seconds) };
}

/** Times the reference COPY is repeated: one COPY on this kind of virtual machine varied by 1.6× between runs. */
const RAW_COPY_RUNS = 3;

/**
 * The server's ingest limit: COPY of the same staged rows from a file into identical tables, the
 * median of RAW_COPY_RUNS (every time is returned too). The rows come from the ETL's own stager, run
 * again on the full run's files (a run empties staging when it ends).
 */
async function rawCopySeconds(wh: Warehouse, dir: string): Promise<{ median: number; runs: number[] }> {
  const files = (sub: string) => walkDataFiles(path.join(data, sub), sub);
  await stageLocalFiles(
    await wh.pool(),
    [
      { source: SONG_SOURCE, pages: files('song_data'), largeBytes: 0 },
      { source: EVENT_SOURCE, pages: files('log_data'), largeBytes: Number.MAX_SAFE_INTEGER },
    ],
    { maxErrors: 0 },
  );
  const client = await (await wh.pool()).connect();
  const tables = ['staging_songs', 'staging_events'];
  const runs: number[] = [];
  let failure: Error | undefined;
  try {
    for (const table of tables) {
      await pipeline(client.query(copyTo(`copy ${table} to stdout`)), createWriteStream(path.join(dir, `${table}.copy`)));
      await client.query(`truncate table ${table}`);
    }
    for (let run = 0; run < RAW_COPY_RUNS; run++) {
      let total = 0;
      for (const table of tables) {
        await client.query(`drop table if exists raw_${table}; create unlogged table raw_${table} (like ${table})`);
        const t = performance.now();
        await pipeline(createReadStream(path.join(dir, `${table}.copy`), { highWaterMark: 1 << 20 }), client.query(copyFrom(`copy raw_${table} from stdin`)));
        total += (performance.now() - t) / 1000;
        await client.query(`drop table raw_${table}`);
      }
      runs.push(total);
    }
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    client.release(failure); // a client whose COPY failed is not given back to the pool
    for (const table of tables) await fs.rm(path.join(dir, `${table}.copy`), { force: true });
  }
  return { median: median(runs), runs };
}

const wh = openWarehouse({ config: loadConfig({ SPARKIFY_HOME: home, SPARKIFY_EMBEDDED_SETTINGS: process.env.SPARKIFY_EMBEDDED_SETTINGS }) });

/** The full run, and unless this is a memory run, raw COPY and the incremental run. */
async function measure(): Promise<Record<string, unknown>> {
  await migrateToLatest(wh.db);
  const clock = phaseClock();
  const full = await runEtl(wh, { songsDir: path.join(data, 'song_data'), logsDir: path.join(data, 'log_data'), progress: clock.progress });
  const phases = clock.finish();
  if (!extraDay) {
    return { song_files: full.files.songs, events: full.staged.events, total_s: full.seconds.total, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) };
  }

  // Incremental: one more day of logs arrives.
  const dayFiles = await fs.readdir(path.join(extraDay, 'log_data'), { recursive: true });
  for (const f of dayFiles.filter((f) => f.endsWith('.json'))) {
    await fs.mkdir(path.dirname(path.join(data, 'log_data', f)), { recursive: true });
    await fs.copyFile(path.join(extraDay, 'log_data', f), path.join(data, 'log_data', f));
  }
  const incrementalClock = phaseClock();
  const incremental = await runEtl(wh, { songsDir: path.join(data, 'song_data'), logsDir: path.join(data, 'log_data'), progress: incrementalClock.progress });
  const incrementalPhases = incrementalClock.finish();
  for (const f of dayFiles.filter((f) => f.endsWith('.json'))) await fs.rm(path.join(data, 'log_data', f));
  // The ETL's peak, before the reference COPY stages the full run's files again.
  const peakRss = Math.round(process.resourceUsage().maxRSS / 1024);
  const { median: raw, runs: rawRuns } = await rawCopySeconds(wh, home);
  const findAndStage = (phases.find_files ?? 0) + (phases.stage ?? 0);

  return {
    events: full.staged.events,
    songs: full.staged.songs,
    stage_s: phases.stage ?? 0,
    // Finding the files and staging them overlap (the logs stage while the song files are found), so
    // staging's speed is judged on the two together.
    find_and_stage_s: findAndStage,
    transform_s: full.seconds.transform,
    phases_s: phases,
    total_s: full.seconds.total,
    raw_copy_s: raw,
    raw_copy_runs_s: rawRuns,
    total_vs_raw_copy: full.seconds.total / raw,
    stage_vs_raw_copy: raw / findAndStage,
    s_per_million_events: (full.seconds.total / full.staged.events) * 1e6,
    incremental_events: incremental.staged.events,
    incremental_s: incremental.seconds.total,
    incremental_vs_full: incremental.seconds.total / full.seconds.total,
    incremental_phases_s: incrementalPhases,
    peak_rss_mb: peakRss,
  };
}

try {
  process.stdout.write(JSON.stringify(await measure()));
} finally {
  // The server stops with the warehouse: the bench removes this home next, which fails while a
  // server still writes in it (the memory run's process.exit once left one running).
  await wh.destroy();
}
