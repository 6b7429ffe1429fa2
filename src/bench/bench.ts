// npm run bench [-- --sizes 100000,1000000] [--repeat N] [--json]: the ETL's speed and memory on generated data.
// npm run bench -- --startup [--runs N]: how fast the command starts.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { table } from '../cli/format.js';
import { countOption, listOf, UsageError, wholeNumbers } from '../cli/options.js';
import { loadConfig } from '../config.js';
import { generate } from '../generate/generator.js';
import { measureStartup } from './startup.js';
import { judgeTargets, type MemoryMeasurement } from './targets.js';

const SONGS = 15000;
const SEED = 1;
const DAYS = 30;

/** `--settings`: a comma-separated list of tuned and stock; "" is none. */
const settingsList = listOf('settings', (item): 'tuned' | 'stock' => {
  if (item !== 'tuned' && item !== 'stock') throw new UsageError(`--settings: "${item}" is neither tuned nor stock`);
  return item;
});

const args = await yargs(hideBin(process.argv))
  .option('sizes', { type: 'string', default: '100000,1000000', coerce: wholeNumbers('sizes', { min: 1 }), describe: 'Event counts to measure, comma-separated; "" skips them' })
  .option('settings', { type: 'string', default: 'tuned,stock', coerce: settingsList, describe: 'Embedded server settings to measure, comma-separated: tuned (the default server), stock (PostgreSQL defaults)' })
  .option('files', { type: 'string', default: '1000,100000', coerce: wholeNumbers('files', { min: 1 }), describe: 'Song-file counts for the memory-in-files measurement (1,000 events each), comma-separated; "" skips it' })
  .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
  .option('startup', { type: 'boolean', default: false, describe: 'Measure start-up times instead of the ETL' })
  .option('runs', countOption('runs', 'Start-up runs per command (the median is reported)', { min: 1, max: 1000 }, 9))
  .option(
    'repeat',
    countOption(
      'repeat',
      "Measure each size this many times (its settings in turn within each time), then each file count: on a machine whose speed drifts one run says little. Without --json the bench ends with issue #13's targets met in k of n runs (at 1,000,000 events, and 100,000 song files against 1,000)",
      { min: 1, max: 20 },
      1,
    ),
  )
  .strict()
  .help()
  .parseAsync();
const { sizes, settings: settingsToMeasure, files: fileSizes } = args;
const root = path.join(loadConfig().home, 'bench');
const log = (line: string) => process.stderr.write(`${line}\n`);
const machine = () => `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

if (args.startup) {
  const results = await measureStartup(root, args.runs, log);
  if (args.json) process.stdout.write(`${JSON.stringify({ machine: machine(), results }, null, 2)}\n`);
  else {
    const s = (n: number) => n.toFixed(2);
    const rows = results.map((r) => ({ command: r.name, median_s: s(r.median_s), min_s: s(r.min_s), max_s: s(r.max_s), target_s: r.target_s ?? '', met: r.met === undefined ? '' : r.met ? 'yes' : 'NO' }));
    process.stdout.write(`${table(rows)}\n\nMedian of ${args.runs} runs each. Machine: ${machine()}\n`);
  }
  process.exit(results.some((r) => r.met === false) ? 1 : 0);
}

/** A generated data set, kept between runs (the generator is deterministic). */
async function dataSet(name: string, options: Parameters<typeof generate>[0]): Promise<string> {
  const marker = path.join(options.out, 'generated.json');
  const want = JSON.stringify(options);
  if (existsSync(marker) && (await fs.readFile(marker, 'utf8')) === want) return options.out;
  log(`Generating ${name}…`);
  await generate(options);
  await fs.writeFile(marker, want);
  return options.out;
}

// Compiled (npm run bench) the child is JavaScript; run from source, it needs tsx too.
const fromSource = import.meta.url.endsWith('.ts');
const child = fileURLToPath(new URL(`./etl-child.${fromSource ? 'ts' : 'js'}`, import.meta.url));

/** Runs one measurement (etl-child.ts) in a fresh home, removed afterwards even if it fails (a 1M database is large). */
async function measureInFreshHome(home: string, childArgs: string[], env: NodeJS.ProcessEnv = process.env) {
  await fs.rm(home, { recursive: true, force: true });
  await fs.mkdir(home, { recursive: true, mode: 0o755 });
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), child, home, ...childArgs], { maxBuffer: 1 << 20, env });
    return JSON.parse(stdout);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}

/** ", run k" (", run k of n" with `ofAll`) when measurements repeat, else nothing. */
const runLabel = (run: number, ofAll = false) => (args.repeat > 1 ? `, run ${run}${ofAll ? ` of ${args.repeat}` : ''}` : '');
const results = [];
for (const events of sizes) {
  const data = await dataSet(`${events} events`, { out: path.join(root, `data-${events}`), songs: SONGS, events, seed: SEED, days: DAYS });
  const extra = await dataSet(`one more day of ${events} events`, {
    out: path.join(root, `day-${events}`),
    songs: SONGS,
    events: Math.round(events / DAYS),
    seed: SEED,
    days: 1,
    start: '2018-12-01',
  });
  // Settings in turn within each repeat, so that a slow spell of the machine falls on both alike.
  for (let run = 1; run <= args.repeat; run++) {
    for (const settings of settingsToMeasure) {
      log(`Measuring ${events} events (fresh embedded database, ${settings} settings${runLabel(run, true)})…`);
      const measured = await measureInFreshHome(path.join(root, `home-${events}`), [data, extra], { ...process.env, SPARKIFY_EMBEDDED_SETTINGS: settings });
      results.push({ settings, run, ...measured });
    }
  }
}

// Memory in files: the same small log with more and more song files (tuned settings).
const memory: (MemoryMeasurement & { kind: 'memory_in_files'; total_s: number })[] = [];
// Generated (or found) once, before the runs.
const fileData: [number, string][] = [];
for (const songs of fileSizes) fileData.push([songs, await dataSet(`${songs} song files`, { out: path.join(root, `files-${songs}`), songs, events: 1000, seed: SEED, days: DAYS })]);
for (let run = 1; run <= (fileSizes.length ? args.repeat : 0); run++) {
  for (const [songs, data] of fileData) {
    log(`Measuring ${songs} song files (fresh embedded database${runLabel(run, true)})…`);
    memory.push({ kind: 'memory_in_files', run, ...(await measureInFreshHome(path.join(root, `home-files-${songs}`), [data])) });
  }
}

if (args.json) {
  // An array of the ETL measurements, as before; the memory-in-files ones carry song_files.
  process.stdout.write(`${JSON.stringify([...results, ...memory], null, 2)}\n`);
} else {
  const r2 = (n: number) => Math.round(n * 100) / 100;
  if (results.length) {
    process.stdout.write(
      `${table(
        results.map((r) => ({
          ...(args.repeat > 1 ? { run: r.run } : {}),
          events: r.events,
          songs: r.songs,
          settings: r.settings,
          find_stage_s: r2(r.find_and_stage_s),
          transform_s: r2(r.transform_s),
          total_s: r2(r.total_s),
          'events/s': Math.round(r.events / r.total_s),
          raw_copy_s: r2(r.raw_copy_s),
          total_vs_raw: r2(r.total_vs_raw_copy),
          stage_vs_raw: r2(r.stage_vs_raw_copy),
          's/M': r2(r.s_per_million_events),
          'transform_s/M': r2((r.transform_s / r.events) * 1e6),
          incr_s: r2(r.incremental_s),
          incr_vs_full: `${(r.incremental_vs_full * 100).toFixed(1)}%`,
          peak_rss_mb: r.peak_rss_mb,
        })),
      )}\n`,
    );
  }
  for (const r of results) {
    const phases = (p: Record<string, number>) => Object.entries(p).map(([k, v]) => `${k} ${r2(v)}`).join(', ');
    process.stdout.write(`\n${r.events} events, ${r.settings} settings${runLabel(r.run)}, seconds per phase: ${phases(r.phases_s)}\n`);
    process.stdout.write(`  and of the incremental run: ${phases(r.incremental_phases_s)}\n`);
    process.stdout.write(`  raw COPY runs (the median is the reference): ${r.raw_copy_runs_s.map(r2).join(', ')} s\n`);
  }
  if (memory.length) {
    // Against the first file count of the same run.
    const base = (run: number) => memory.find((m) => m.run === run)!.peak_rss_mb;
    process.stdout.write(
      `\nMemory in files (1,000 events):\n${table(memory.map((m) => ({ ...(args.repeat > 1 ? { run: m.run } : {}), song_files: m.song_files, total_s: r2(m.total_s), peak_rss_mb: m.peak_rss_mb, vs_first: r2(m.peak_rss_mb / base(m.run)) })))}\n`,
    );
  }
  const judged = judgeTargets(results, memory);
  if (judged.length) {
    const shown = (t: (typeof judged)[number]) => t.values.map((v) => `${t.show(v)}${t.meets(v) ? '' : ' ✗'}`).join(', ');
    const rows = judged.map((t) => ({ target: t.target, settings: t.settings, measured: shown(t), met: `${t.met} of ${t.values.length}` }));
    process.stdout.write(`\nAgainst issue #13's targets (✗: not met):\n${table(rows)}\n`);
  }
  process.stdout.write(`\nMachine: ${machine()}\n`);
}
