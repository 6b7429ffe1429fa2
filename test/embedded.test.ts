import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { openWarehouse } from '../src/db/connection.js';
import { ROOT } from './helpers/cli.js';

/** The embedded default: started on demand, initialised on first use, stopped when done. */
describe('embedded PostgreSQL target', () => {
  let home: string;
  beforeAll(async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-home-'));
    await fs.chmod(dir, 0o755);
    home = path.join(dir, 'home');
  });
  afterAll(() => fs.rm(path.dirname(home), { recursive: true, force: true }));

  const open = (log?: (l: string) => void, at = home) => openWarehouse({ config: loadConfig({ SPARKIFY_HOME: at }), log });
  const postmasterPid = async (at = home) => Number((await fs.readFile(path.join(at, 'pgdata/postmaster.pid'), 'utf8')).split('\n')[0]);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('initialises on first use, listens on loopback only, and stops when destroyed', async () => {
    const lines: string[] = [];
    const fresh = path.join(path.dirname(home), 'first-use'); // a home of its own: the other tests may have made theirs
    const wh = open((l) => lines.push(l), fresh);
    expect(existsSync(fresh)).toBe(false); // nothing starts before the first query
    const { rows } = await (await wh.pool()).query<{ addr: string }>(`select inet_server_addr()::text as addr`);
    expect(rows[0]!.addr).toBe('127.0.0.1/32');
    expect(lines.some((l) => l.startsWith('Initialising'))).toBe(true);
    expect((await fs.stat(path.join(fresh, 'password'))).mode & 0o777).toBe(0o600);
    const pid = await postmasterPid(fresh);
    await wh.destroy();
    expect(alive(pid)).toBe(false);
    expect(existsSync(path.join(fresh, 'pgdata/postmaster.pid'))).toBe(false);
  });

  it('keeps data between commands and does not initialise again', async () => {
    const first = open();
    await first.db.schema.createTable('kept').addColumn('x', 'integer').execute();
    await first.db.insertInto('kept' as never).values({ x: 42 } as never).execute();
    await first.destroy();
    const lines: string[] = [];
    const second = open((l) => lines.push(l));
    const { rows } = await (await second.pool()).query('select x from kept');
    expect(rows).toEqual([{ x: 42 }]);
    expect(lines.some((l) => l.startsWith('Initialising'))).toBe(false);
    await second.destroy();
  });

  it('is shared with another live process, which keeps it when this one leaves; the last to leave stops it, even after a kill', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/hold-warehouse.ts')], {
      cwd: ROOT,
      env: { ...process.env, SPARKIFY_HOME: home, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout!, 'data');
    const server = await postmasterPid();

    const second = open();
    await (await second.pool()).query('select 1'); // joins, no waiting and no error
    expect(await postmasterPid()).toBe(server);
    await second.destroy();
    expect(alive(server)).toBe(true); // the other process still uses it

    child.kill('SIGKILL'); // its lease stays behind, but its process is gone
    await once(child, 'exit');
    expect(alive(server)).toBe(true);

    const next = open();
    await (await next.pool()).query('select 1');
    expect(await postmasterPid()).toBe(server); // joined the running server
    await next.destroy();
    expect(alive(server)).toBe(false); // the last live user left
  });

  it('a reader holding a connection throughout a full ETL never blocks it, and sees the old or the new state, never a mix', async () => {
    const { generate } = await import('../src/generate/generator.js');
    const { runEtl } = await import('../src/etl/pipeline.js');
    const { migrateToLatest } = await import('../src/db/migrate.js');
    const data = path.join(path.dirname(home), 'data');
    await generate({ out: data, songs: 100, events: 20000, seed: 8, days: 4 });
    const dayOne = path.join(path.dirname(home), 'day-one');
    await fs.cp(path.join(data, 'log_data'), dayOne, { recursive: true });
    const logFiles = (await fs.readdir(dayOne, { recursive: true })).filter((f) => f.endsWith('.json')).sort();
    for (const f of logFiles.slice(1)) await fs.rm(path.join(dayOne, f));
    // The old state: the first day loaded.
    const first = open();
    await migrateToLatest(first.db);
    await runEtl(first, { songsDir: path.join(data, 'song_data'), logsDir: dayOne });
    const before = { ...(await first.db.selectFrom('songplays').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()) };
    await first.destroy();

    const reader = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/read-during-etl.ts')], {
      cwd: ROOT,
      env: { ...process.env, SPARKIFY_HOME: home, DATABASE_URL: '' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    reader.stdout!.on('data', (c) => (output += c));
    await once(reader.stdout!, 'data');
    const etl = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/sparkify.js'), 'etl', '--songs', path.join(data, 'song_data'), '--logs', path.join(data, 'log_data')], {
        cwd: ROOT,
        env: { ...process.env, SPARKIFY_HOME: home, DATABASE_URL: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (c) => (stderr += c));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    await new Promise((r) => setTimeout(r, 300));
    reader.stdin!.end();
    await once(reader, 'exit');
    expect(etl.code, etl.stderr).toBe(0);

    const states = output.trim().split('\n').map((l) => JSON.parse(l) as { songplays: number; time: number; users: number; runs: number });
    const seen = [...new Set(states.map((s) => JSON.stringify(s)))].map((s) => JSON.parse(s));
    expect(states.length).toBeGreaterThan(5);
    expect(seen[0]).toMatchObject({ songplays: before.n, runs: 1 });
    expect(seen.at(-1)!.runs).toBe(2);
    expect(seen.at(-1)!.songplays).toBeGreaterThan(before.n);
    expect(seen).toHaveLength(2); // the old state, then the new: never a table from each
  }, 180_000);
});
