// Bad situations get one clear line: connection failures, a busy or broken embedded server, input
// directories that are wrong, unexpected errors (a stack only with --debug), and a down migration
// that would drop data.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../src/generate/generator.js';
import { ROOT, sparkify } from './helpers/cli.js';
import { createTestDatabase } from './helpers/db.js';
import { event, song, writeTree } from './helpers/files.js';

/** Exactly one message line (and optionally one hint line), no stack, no wrapping "Migration … failed". */
function expectOneLine(stderr: string) {
  const lines = stderr.trimEnd().split('\n');
  expect(lines.length, stderr).toBeLessThanOrEqual(2);
  expect(stderr).not.toMatch(/\n\s+at |Migration .* failed/);
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('connection problems', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let songs: string;
  let logs: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    songs = await writeTree({ 'a.json': song({}) });
    logs = await writeTree({ 'a.json': event({}) });
  });
  afterAll(() => database.drop());

  const withUrl = (change: (url: URL) => void) => {
    const url = new URL(database.url);
    change(url);
    return url.toString();
  };

  it('authentication failed: names the user, never the password', async () => {
    const url = withUrl((u) => (u.password = 'Wrong-Secret-123'));
    const result = await sparkify(['etl', '--songs', songs, '--logs', logs], { DATABASE_URL: url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sparkify: Authentication failed \(postgres:\/\/sparkify:\*+@127\.0\.0\.1:\d+\/test_\w+\): password authentication failed for user "sparkify"/);
    expect(result.stderr).not.toContain('Wrong-Secret-123');
    expectOneLine(result.stderr);
  });

  it('nothing listening: names host and port', async () => {
    const port = await closedPort();
    const result = await sparkify(['runs'], { DATABASE_URL: `postgres://u:p@127.0.0.1:${port}/db` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^sparkify: Could not connect: nothing is listening at 127\\.0\\.0\\.1:${port}\\.`));
    expectOneLine(result.stderr);
  });

  it('host not found: names the host', async () => {
    const result = await sparkify(['check'], { DATABASE_URL: 'postgres://u:p@no-such-host.invalid:5432/db' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sparkify: Could not connect: host not found: no-such-host\.invalid\./);
    expectOneLine(result.stderr);
  });

  it('database does not exist: names it', async () => {
    const url = withUrl((u) => (u.pathname = '/no_such_database'));
    const result = await sparkify(['query', 'select 1'], { DATABASE_URL: url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sparkify: Database "no_such_database" does not exist \(postgres:\/\/sparkify:\*+@/);
    expect(result.stderr).toContain('createdb');
    expectOneLine(result.stderr);
  });

  it('an error nobody anticipated: one line and a hint; --debug or DEBUG=sparkify adds the stack', async () => {
    const env = { DATABASE_URL: database.url };
    const plain = await sparkify(['query', 'select 1/0'], env);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toBe('sparkify: The database refused a statement: division by zero (SQLSTATE 22012)\nRun again with --debug (or DEBUG=sparkify) to see where it happened.\n');
    for (const debug of [await sparkify(['query', 'select 1/0', '--debug'], env), await sparkify(['query', 'select 1/0'], { ...env, DEBUG: 'sparkify' })]) {
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(/^sparkify: The database refused a statement: division by zero/);
      expect(debug.stderr).toMatch(/\n\s+at .*pg/);
    }
  });
});

describe('the embedded server', () => {
  let home: string;
  beforeAll(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-errors-'));
    await fs.chmod(home, 0o755); // the server may run as the "postgres" OS user
  });
  afterAll(() => fs.rm(home, { recursive: true, force: true }));

  it('in use by another process (a notebook holding a connection): a second command shares the server and succeeds', async () => {
    const holder = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/hold-warehouse.ts')], {
      cwd: ROOT,
      env: { ...process.env, SPARKIFY_HOME: home, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await once(holder.stdout!, 'data');
      const data = await writeTree({ 's/a.json': song({}), 'l/a.json': event({}) });
      const result = await sparkify(['etl', '--songs', path.join(data, 's'), '--logs', path.join(data, 'l')], { SPARKIFY_HOME: home, DATABASE_URL: '' });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/shared with another sparkify process/);
    } finally {
      holder.kill('SIGTERM');
      await once(holder, 'exit');
    }
  });

  it('could not start: says so and why, and does not hang', async () => {
    const broken = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-broken-'));
    try {
      await fs.chmod(broken, 0o755);
      await fs.mkdir(path.join(broken, 'pgdata'), { mode: 0o755 });
      await fs.writeFile(path.join(broken, 'pgdata', 'PG_VERSION'), '17\n'); // a data directory with nothing else in it
      const result = await sparkify(['runs'], { SPARKIFY_HOME: broken, DATABASE_URL: '' });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^sparkify: The embedded PostgreSQL server in .*pgdata did not start\./);
      expect(result.stderr).toMatch(/postgresql\.conf/); // the server's own reason
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await fs.rm(broken, { recursive: true, force: true });
    }
  });
});

describe('input directories', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let data: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    data = await writeTree({ 'songs/A/a.json': song({}), 'logs/2018/a.json': event({}), 'empty/sub/readme.txt': 'not data', 'file.json': '{}' });
  });
  afterAll(async () => {
    await database.drop();
    await fs.rm(data, { recursive: true, force: true });
  });
  const etl = (...args: string[]) => sparkify(['etl', ...args], { DATABASE_URL: database.url });

  it('a path that is a file says so', async () => {
    const file = path.join(data, 'file.json');
    const result = await etl('--songs', file, '--logs', path.join(data, 'logs'));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`sparkify: Song (--songs) directory ${file} is a file, not a directory: give the directory that holds the .json files.\n`);
  });

  it('a directory with no data files at all is an error unless --allow-empty', async () => {
    const empty = path.join(data, 'empty');
    const refused = await etl('--songs', path.join(data, 'songs'), '--logs', empty);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `sparkify: Log (--logs) directory ${empty} holds no data files (*.json, *.json.gz): check the path, or pass --allow-empty to load nothing from it.\n`,
    );
    const allowed = await etl('--songs', path.join(data, 'songs'), '--logs', empty, '--allow-empty', '--json');
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout).files).toEqual({ songs: 1, events: 0 });
  });

  it('an incremental run that finds files but nothing new succeeds and says so', async () => {
    const args = ['--songs', path.join(data, 'songs'), '--logs', path.join(data, 'logs')];
    expect((await etl(...args)).code).toBe(0);
    const again = await etl(...args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Found 1 song file and 1 log file; loaded 0 and 0 (the other 2 were loaded before and have not changed).');
  });

  it('names the warnings, judged on the whole warehouse: a run that loads nothing new warns as the one before it', async () => {
    const fresh = await createTestDatabase();
    try {
      const logs = await writeTree({ '2018/a.json': event({ page: 'NextSong', song: 'Nope', artist: 'Nobody', length: 1 }) });
      const args = ['etl', '--songs', path.join(data, 'songs'), '--logs', logs];
      for (const run of [await sparkify(args, { DATABASE_URL: fresh.url }), await sparkify(args, { DATABASE_URL: fresh.url })]) {
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toContain('Catalogue matches: 0 of 1 plays');
        expect(run.stdout).toMatch(/, 1 warning\(s\)[;.]/);
        expect(run.stdout).toContain('  warning: songplays: at least 50% matched to the song catalogue (1 offending row(s))\n');
      }
    } finally {
      await fresh.drop();
    }
  });

  it('the first run says it loaded them all, and the checks tally names what PostgreSQL guarantees', async () => {
    const fresh = await createTestDatabase();
    try {
      const result = await sparkify(['etl', '--songs', path.join(data, 'songs'), '--logs', path.join(data, 'logs')], { DATABASE_URL: fresh.url });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('Found 1 song file and 1 log file; loaded all of them.');
      expect(result.stdout).not.toContain('loaded before');
      const ran = /Checks: (\d+) of (\d+) ran: \d+ passed, 0 failed, \d+ warning\(s\); the other (\d+), not-null and unique keys, are guaranteed by PostgreSQL's constraints\./.exec(result.stdout);
      expect(ran, result.stdout).not.toBeNull();
      const check = await sparkify(['check'], { DATABASE_URL: fresh.url });
      // `check` runs every check, and says the same about the ones the constraints guarantee.
      expect(check.stdout).toContain(`${ran![2]} of ${ran![2]} ran:`);
      expect(check.stdout).toContain(`(${ran![3]} of them, not-null and unique keys, are also guaranteed by PostgreSQL's constraints)`);
      expect(Number(ran![1]) + Number(ran![3])).toBe(Number(ran![2]));
    } finally {
      await fresh.drop();
    }
  });
});

describe('migrate down', () => {
  it('asks for --yes only when the migration would drop tables holding data, or columns holding values', async () => {
    const database = await createTestDatabase();
    const data = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-down-'));
    try {
      const env = { DATABASE_URL: database.url };
      await generate({ out: data, songs: 5, events: 50, seed: 1, days: 1 });
      expect((await sparkify(['etl', '--songs', path.join(data, 'song_data'), '--logs', path.join(data, 'log_data')], env)).code).toBe(0);
      const down = async (name: string, ...args: string[]) => {
        const result = await sparkify(['migrate', 'down', ...args], env);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^reverted ${name}`));
      };
      // The newest migrations drop the run's (emptied) work tables and revoke the readers' grants: no data.
      for (const name of ['20261126_08', '20261126_07']) await down(name);
      // The next drops two columns of users, which the ETL filled.
      const columns = await sparkify(['migrate', 'down'], env);
      expect([columns.code, columns.stderr]).toEqual([
        2,
        expect.stringMatching(/^sparkify: Reverting 20261126_06_users_latest_event drops columns that hold values: users\.last_item_in_session, users\.last_session_id\. Run again with --yes to confirm\./),
      ]);
      await down('20261126_06', '--yes');
      // Then a layout change (Redshift only) and a dropped index: no data.
      for (const name of ['20261126_05', '20261126_04']) await down(name);
      // The next drops the run bookkeeping, which the ETL filled.
      const refused = await sparkify(['migrate', 'down'], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^sparkify: Reverting 20261125_03_run_bookkeeping drops tables that hold data: .*etl_runs.*\. Run again with --yes to confirm\./);
      const runs = await sparkify(['query', 'select count(*) as n from etl_runs', '--json'], env);
      expect(JSON.parse(runs.stdout)).toEqual([{ n: 1 }]);
      const confirmed = await sparkify(['migrate', 'down', '--yes'], env);
      expect(confirmed.code, confirmed.stderr).toBe(0);
      expect(confirmed.stdout).toMatch(/^reverted 20261125_03/);
    } finally {
      await database.drop();
      await fs.rm(data, { recursive: true, force: true });
    }
  });
});
