// The `sparkify` command line. Start-up matters (every invocation pays it), so this module loads
// only yargs and the CLI's own small helpers; each command imports what it needs when it runs.
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import type { Config } from '../config.js';
import type { Warehouse } from '../db/connection.js';
import type { EtlSummary } from '../etl/pipeline.js';
import { checkInputDir } from './inputs.js';
import { countOption, isoDate, UsageError } from './options.js';
import { provisionOptions, runProvision, runTeardown, teardownOptions } from '../provision/main.js';
import { setEmbeddedHome, setInterruptNote } from './signals.js';

/** A local directory made absolute; an s3:// prefix as given. */
const inputPath = (p: string) => (p.startsWith('s3://') ? p : path.resolve(p));

/** The warehouse the current command uses, as safe to print: connection errors name it. */
export let warehouseShown: string | undefined;

const NOT_PUBLISHED = 'Nothing from this run was published; the next run picks up from the last committed one.';

/** Opens the configured warehouse for one command and always closes it (stopping an embedded server). */
async function withWarehouse<T>(quiet: boolean, run: (wh: Warehouse, config: Config) => Promise<T>, given?: Config): Promise<T> {
  const [{ loadConfig }, { openWarehouse }] = await Promise.all([import('../config.js'), import('../db/connection.js')]);
  const config = given ?? loadConfig();
  const wh = openWarehouse({ config, log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`) });
  warehouseShown = wh.describe();
  // The embedded server is behind PostgreSQL and behind the Redshift emulation alike.
  if (!config.databaseUrl && config.target !== 'redshift') setEmbeddedHome(config.home);
  try {
    return await run(wh, config);
  } finally {
    await wh.destroy();
    setEmbeddedHome(undefined);
  }
}

const migrateLatest = async (wh: Warehouse) => (await import('../db/migrate.js')).migrateToLatest(wh.db);

async function printSummary(summary: EtlSummary, wh: Warehouse): Promise<void> {
  const { table } = await import('./format.js');
  const out = process.stdout;
  const { files, loadedFiles } = summary;
  out.write(`Run ${summary.runId}\n`);
  const found = files.songs + files.events;
  const loaded = loadedFiles.songs + loadedFiles.events;
  out.write(
    `Found ${count(files.songs, 'song file')} and ${count(files.events, 'log file')}; ` +
      (loaded === found ? 'loaded all of them.\n' : `loaded ${loadedFiles.songs} and ${loadedFiles.events} (the other ${found - loaded} were loaded before and have not changed).\n`),
  );
  out.write(`Staged ${summary.staged.songs} songs and ${summary.staged.events} events; ${summary.rejected} bad record(s)` +
      (summary.repaired ? `; repaired ${summary.repaired} text(s) whose UTF-8 had been read as Latin-1` : '') + '.\n');
  for (const r of summary.rejects.slice(0, 10)) out.write(`  rejected ${r.file}:${r.line}: ${r.reason}\n`);
  out.write(
    `${table(
      Object.entries(summary.tables).map(([name, rows]) => {
        const t = summary.transform[name as keyof EtlSummary['transform']];
        return { table: name, rows, inserted: t.inserted, updated: t.updated };
      }),
    )}\n`,
  );
  const { plays, matched, rate } = summary.catalogue;
  const { formatRate } = await import('../queries/index.js');
  out.write(
    `Catalogue matches: ${matched} of ${plays} plays (${formatRate(rate)})` +
      (plays && rate < 0.5 ? ': most plays match no catalogue song, so rank songs as played (topSongs), not by catalogue.\n' : '.\n'),
  );
  if (summary.checks.length) out.write(`Checks: ${await checkTally(summary.checks, wh.target === 'postgres')}.\n`);
  // A run that commits has no failed check; its warnings are named (`sparkify check` shows them all).
  for (const r of summary.checks.filter((c) => !c.passed)) out.write(`  warning: ${r.name} (${r.offending} offending row(s))\n`);
  const s = summary.seconds;
  out.write(`Done in ${s.total.toFixed(2)} s (staging ${s.stage.toFixed(2)} s, transform ${s.transform.toFixed(2)} s).\n`);
}

/** "1 song file", "2 song files". */
const count = (n: number, thing: string) => `${n} ${thing}${n === 1 ? '' : 's'}`;

/**
 * "N passed, …" and, on PostgreSQL, how many of the checks its constraints already guarantee (the ETL
 * skips those there; `check` runs them all), so that `etl` and `check` tell the same story.
 */
async function checkTally(results: { name: string; passed: boolean; severity: string }[], postgres: boolean): Promise<string> {
  const { failures, WAREHOUSE_CHECKS } = await import('../etl/checks.js');
  const warned = results.filter((r) => !r.passed && r.severity === 'warn').length;
  const failed = failures(results as never).length;
  const tally = `${results.length} of ${WAREHOUSE_CHECKS.length} ran: ${results.length - failed - warned} passed, ${failed} failed, ${warned} warning(s)`;
  if (!postgres) return tally;
  const enforced = WAREHOUSE_CHECKS.filter((c) => c.enforcedByPostgres).length;
  const ranEnforced = results.filter((r) => WAREHOUSE_CHECKS.find((c) => c.name === r.name)?.enforcedByPostgres).length;
  return ranEnforced
    ? `${tally} (${enforced} of them, not-null and unique keys, are also guaranteed by PostgreSQL's constraints)`
    : `${tally}; the other ${enforced}, not-null and unique keys, are guaranteed by PostgreSQL's constraints`;
}

/** The machine-readable summary that `--json` prints. */
function jsonSummary(summary: EtlSummary, wh: Warehouse) {
  return {
    runId: summary.runId,
    warehouse: wh.describe(),
    files: summary.files,
    loadedFiles: summary.loadedFiles,
    staged: summary.staged,
    repaired: summary.repaired,
    rejected: summary.rejected,
    rejects: summary.rejects,
    tables: summary.tables,
    catalogue: summary.catalogue,
    transform: summary.transform,
    checks: summary.checks,
    seconds: summary.seconds,
  };
}

const etlOptions = (y: Argv) =>
  y
    .option('songs', { type: 'string', requiresArg: true, describe: 'Directory of song files (default: SPARKIFY_SONGS or ./data/song_data)' })
    .option('logs', { type: 'string', requiresArg: true, describe: 'Directory of event logs (default: SPARKIFY_LOGS or ./data/log_data)' })
    // Redshift's COPY tolerates at most 99,999 (MAXERROR 100,000 fails at that count); the same budget
    // everywhere keeps a run portable.
    .option('max-errors', countOption('max-errors', 'Bad records tolerated before the run fails', { max: 99_999 }, 0))
    .option('check', { type: 'boolean', default: true, describe: 'Run data-quality checks before committing (--no-check skips)' })
    .option('full-refresh', { type: 'boolean', default: false, describe: 'Reload every file, not only new and changed ones' })
    .option('workers', countOption('workers', 'Threads parsing local files (0: none; default: by input size, up to 4)', { max: 64 }))
    .option('allow-empty', { type: 'boolean', default: false, describe: 'Accept an input directory with no data files (otherwise an error: usually a wrong path)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable summary' });

const sqlOutput = { json: { type: 'boolean', default: false, describe: 'Print JSON' } } as const;

/** Builds the `sparkify` command line. */
export function cli(argv: string[]) {
  return yargs(argv)
    .scriptName('sparkify')
    .usage('$0 <command> [options]\n\nLoads Sparkify song metadata and event logs into a star-schema warehouse.')
    .option('debug', { type: 'boolean', default: false, describe: 'Print the stack of an unexpected error (also: DEBUG=sparkify)', global: true })
    .command(
      'etl',
      'Stage the song and log files and load the star tables',
      etlOptions,
      async (args) => {
        const { loadConfig } = await import('../config.js');
        const config = loadConfig();
        const songsDir = inputPath(args.songs ?? config.songsDir);
        const logsDir = inputPath(args.logs ?? config.logsDir);
        checkInputDir(songsDir, 'Song (--songs)', args['allow-empty']);
        checkInputDir(logsDir, 'Log (--logs)', args['allow-empty']);
        const [{ runEtl }, { consoleProgress }] = await Promise.all([import('../etl/pipeline.js'), import('./progress.js')]);
        setInterruptNote(NOT_PUBLISHED);
        await withWarehouse(args.json, async (wh) => {
          await migrateLatest(wh);
          const summary = await runEtl(wh, {
            songsDir,
            logsDir,
            maxErrors: args['max-errors'],
            check: args.check,
            fullRefresh: args['full-refresh'],
            parseWorkers: args.workers,
            progress: consoleProgress(process.stderr, args.json),
          });
          if (args.json) process.stdout.write(`${JSON.stringify(jsonSummary(summary, wh), null, 2)}\n`);
          else await printSummary(summary, wh);
        }, config);
      },
    )
    .command(
      'migrate <action>',
      'Apply or revert schema migrations (also: npm run migrate:latest)',
      (y) =>
        y
          .positional('action', { choices: ['latest', 'down', 'list'] as const, demandOption: true })
          .option('yes', { type: 'boolean', default: false, describe: 'Confirm a down migration that drops tables holding data' }),
      async (args) => {
        const { migrator, migrateDown } = await import('../db/migrate.js');
        await withWarehouse(false, async (wh) => {
          if (args.action === 'list') {
            for (const m of await migrator(wh.db).getMigrations()) {
              process.stdout.write(`${m.executedAt ? '[x]' : '[ ]'} ${m.name}\n`);
            }
            return;
          }
          if (args.action === 'down') await (await import('./migrate-guard.js')).confirmDown(wh, args.yes);
          const done = args.action === 'latest' ? await migrateLatest(wh) : await migrateDown(wh.db);
          process.stdout.write(done.length ? `${done.join('\n')}\n` : 'Nothing to do.\n');
        });
      },
    )
    .command(
      'runs',
      'List recent ETL runs with their status, counts and, for a run that did not succeed, why',
      (y) => y.option('limit', countOption('limit', 'How many runs', { min: 1, max: 10_000 }, 20)).options(sqlOutput),
      async (args) => {
        await withWarehouse(true, async (wh) => {
          const [{ listRuns }, { table }] = await Promise.all([import('../etl/runs/runs.js'), import('./format.js')]);
          // Read without migrating first (that would cost every call the migrator): a warehouse
          // without the runs table has had no runs.
          const listed = await listRuns(wh.db, args.limit).catch((error: { code?: string }) => {
            if (error.code === '42P01') return [];
            throw error;
          });
          const runs = listed.map((r) => ({ ...r, error: r.error ?? whyNoError(r.status) }));
          process.stdout.write(
            args.json ? `${JSON.stringify(runs, null, 2)}\n` : `${table(runs.map((r) => ({ ...r, error: r.error?.split('\n')[0] ?? null })))}\n`,
          );
        });
      },
    )
    .command(
      'plan',
      'Print, without connecting, every SQL statement migrate:latest and etl would run on Redshift',
      (y) =>
        y
          .option('target', { choices: ['redshift'] as const, default: 'redshift' as const, describe: 'The target to plan for' })
          .option('songs', { type: 'string', demandOption: true, requiresArg: true, describe: 's3:// prefix of the song files' })
          .option('logs', { type: 'string', demandOption: true, requiresArg: true, describe: 's3:// prefix of the log files' })
          .option('iam-role', { type: 'string', demandOption: true, requiresArg: true, describe: 'IAM role ARN that COPY assumes' })
          .option('region', { type: 'string', demandOption: true, requiresArg: true, describe: 'AWS region of the bucket' })
          .option('s3-staging', { type: 'string', requiresArg: true, describe: 's3:// prefix for the JSONPaths file (default: SPARKIFY_S3_STAGING)' })
          .option('max-errors', countOption('max-errors', 'Bad records tolerated (sent as MAXERROR N+1, see README)', { max: 99_999 }, 0))
          .option('gzip', { type: 'boolean', default: false, describe: "The objects are gzip'd" }),
      async (args) => {
        const s3Staging = args['s3-staging'] ?? process.env.SPARKIFY_S3_STAGING;
        if (!s3Staging) throw new UsageError('plan needs --s3-staging (or SPARKIFY_S3_STAGING): the events JSONPaths file lives there');
        const { redshiftPlan } = await import('../plan.js');
        const plan = await redshiftPlan({
          songs: args.songs,
          logs: args.logs,
          iamRole: args['iam-role'],
          region: args.region,
          s3Staging,
          maxErrors: args['max-errors'],
          gzip: args.gzip,
        }).catch((error: Error) => {
          // Every value the plan checks the format of was given on its command line: a bad one is a usage error.
          throw error.name === 'InvalidValueError' ? new UsageError(error.message) : error;
        });
        process.stdout.write(plan);
      },
    )
    .command(
      'check',
      'Run the data-quality checks on the warehouse; exits non-zero if any fails',
      (y) => y.options(sqlOutput),
      async (args) => {
        const [{ runChecks, failures, WAREHOUSE_CHECKS }, { table }] = await Promise.all([import('../etl/checks.js'), import('./format.js')]);
        const { results, postgres } = await withWarehouse(true, async (wh) => ({ results: await runChecks(wh.db), postgres: wh.target === 'postgres' }));
        if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else {
          const enforced = new Set(WAREHOUSE_CHECKS.filter((c) => c.enforcedByPostgres && postgres).map((c) => c.name));
          const mark = (r: (typeof results)[number]) => (r.passed ? 'pass' : r.severity === 'warn' ? 'WARN' : 'FAIL');
          process.stdout.write(
            `${table(results.map((r) => ({ result: mark(r), check: r.name, offending: r.offending, ...(postgres ? { 'also a constraint': enforced.has(r.name) ? 'yes' : '' } : {}) })))}\n`,
          );
          process.stdout.write(`${await checkTally(results, postgres)}\n`);
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
        if (!args.sql.trim()) throw new UsageError('The query is empty: give the SQL to run, e.g. sparkify query "select count(*) from songplays"');
        const [{ readOnlyQuery }, { csv, queryRecords, table }] = await Promise.all([import('../db/read-only.js'), import('./format.js')]);
        const result = await withWarehouse(true, (wh) => readOnlyQuery(wh, args.sql)).catch((error: Error & { code?: string }) => {
          // The extended protocol refuses a second statement (which is what keeps "commit; delete …" out).
          if (error.code === '42601' && /multiple commands/.test(error.message)) throw new UsageError('query runs one SQL statement: run each statement by itself');
          throw error;
        });
        const grid = { columns: result.fields.map((f) => f.name), cells: result.rows };
        process.stdout.write(`${args.json ? JSON.stringify(queryRecords(result), null, 2) : args.csv ? csv(grid) : table(grid)}\n`);
      },
    )
    .command(
      'grant-reader <user>',
      'Let a database user read the star tables (and nothing else): adds it to the group sparkify_reader',
      (y) => y.positional('user', { type: 'string', demandOption: true, describe: 'An existing database user, as the database spells it' }),
      async (args) => {
        const { grantReader, READER_GROUP } = await import('../db/access.js');
        // No migration here: an administrator running it must not become the tables' owner.
        await withWarehouse(true, (wh) => grantReader(wh.db, args.user));
        process.stdout.write(`${args.user} is in ${READER_GROUP}: it may read songplays, users, songs, artists and time, and nothing else.\n`);
      },
    )
    .command(
      'report',
      'Write one self-contained HTML page of what users listen to (charts, top songs, health)',
      (y) =>
        y
          .option('out', { type: 'string', default: 'report.html', requiresArg: true, describe: 'The HTML file to write' })
          .option('from', { type: 'string', requiresArg: true, coerce: isoDate('from'), describe: 'Plays at or after this UTC date (YYYY-MM-DD)' })
          .option('to', { type: 'string', requiresArg: true, coerce: isoDate('to'), describe: 'Plays before this UTC date (YYYY-MM-DD)' })
          .check(({ from, to }) => {
            if (from && to && from >= to) throw new UsageError(`--from ${from} is not before --to ${to}: the period holds no day (--to is the first day after it)`);
            return true;
          }),
      async (args) => {
        const [{ reportData }, { reportHtml }, fs] = await Promise.all([import('../report/data.js'), import('../report/html.js'), import('node:fs/promises')]);
        const period = { from: args.from ? new Date(`${args.from}T00:00:00Z`) : undefined, to: args.to ? new Date(`${args.to}T00:00:00Z`) : undefined };
        const data = await withWarehouse(true, (wh) => reportData(wh.db, period));
        await fs.writeFile(path.resolve(args.out), reportHtml(data));
        process.stdout.write(`Wrote ${args.out}: ${data.catalogue.plays} plays, top song ${data.topSongs[0] ? `"${data.topSongs[0].title}" by ${data.topSongs[0].artist_name}` : '(none)'}.\n`);
      },
    )
    .command(
      'docs',
      'Write the Mermaid ER diagram of the migrated star schema into README.md',
      (y) =>
        y
          .option('readme', { type: 'string', default: 'README.md', requiresArg: true, describe: 'The file with the schema markers' })
          .option('check', { type: 'boolean', default: false, describe: 'Only report (exit 1) when the diagram is stale' }),
      async (args) => {
        const { updateReadme } = await import('../docs/er-diagram.js');
        const current = await withWarehouse(true, async (wh) => {
          await migrateLatest(wh);
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
          .option('out', { type: 'string', demandOption: true, requiresArg: true, describe: 'Output directory (gets song_data/ and log_data/)' })
          .option('songs', countOption('songs', 'Songs in the catalogue', { max: 10_000_000 }, 100))
          .option('events', countOption('events', 'Log events', { max: 1_000_000_000 }, 10000))
          .option('days', countOption('days', 'Days of logs', { min: 1, max: 36_500 }, 30))
          .option('start', { type: 'string', default: '2018-11-01', requiresArg: true, coerce: isoDate('start'), describe: 'First day of logs (YYYY-MM-DD)' })
          .option('seed', countOption('seed', 'Random seed: the same seed gives the same files', { max: 2 ** 32 - 1 }, 1)),
      async (args) => {
        const { generate } = await import('../generate/generator.js');
        const result = await generate({ out: path.resolve(args.out), songs: args.songs, events: args.events, seed: args.seed, days: args.days, start: args.start });
        process.stdout.write(`Wrote ${result.songFiles} song files and ${result.logFiles} log files (${result.events} events) to ${args.out}\n`);
      },
    )
    .command(
      'demo',
      'Generate a small data set, load it into the embedded warehouse and show what is there',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print a machine-readable summary' }),
      async (args) => {
        const [{ loadConfig }, { generate }, { runEtl }, { topSongs }, { consoleProgress }, { table }] = await Promise.all([
          import('../config.js'),
          import('../generate/generator.js'),
          import('../etl/pipeline.js'),
          import('../queries/index.js'),
          import('./progress.js'),
          import('./format.js'),
        ]);
        // The demo keeps its own embedded warehouse, so it never mixes generated data into yours.
        const home = path.join(loadConfig().home, 'demo');
        const config: Config = { ...loadConfig(), home, databaseUrl: undefined };
        const dataDir = path.join(home, 'data');
        if (!args.json) process.stderr.write(`Generating demo data in ${dataDir}…\n`);
        await generate({ out: dataDir, songs: 200, events: 5000, seed: 42, days: 7 });
        setInterruptNote(NOT_PUBLISHED);
        await withWarehouse(args.json, async (wh) => {
          if (!args.json) process.stderr.write(`Warehouse: ${wh.describe()}\n`);
          await migrateLatest(wh);
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
          await printSummary(summary, wh);
          process.stdout.write(`\nTop songs:\n${table(top)}\n`);
          process.stdout.write('\nNext: npx sparkify etl --songs <dir> --logs <dir>   (see README.md)\n');
        }, config);
      },
    )
    .command(
      'provision',
      'Create (or adopt) the Redshift cluster or Serverless workgroup and its IAM role, and write the connection config',
      provisionOptions,
      async (args) => runProvision(args),
    )
    .command(
      'teardown',
      'Delete the Redshift cluster or Serverless workgroup, and what provisioning created',
      teardownOptions,
      async (args) => runTeardown(args),
    )
    .demandCommand(1, 'Name a command (see --help).')
    .strict()
    .help()
    .alias('h', 'help')
    .fail((message, error) => {
      // yargs' own complaints (and our coerce checks) are usage errors; anything else is the command's.
      throw error ?? new UsageError(message);
    });
}

/** Why a run that did not succeed has no recorded error. */
function whyNoError(status: string): string | null {
  return status === 'abandoned' ? 'stopped before it finished (killed, interrupted or crashed); the next run loaded its files again' : null;
}

