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

  const open = (log?: (l: string) => void) => openWarehouse({ config: loadConfig({ SPARKIFY_HOME: home }), log });
  const postmasterPid = async () => Number((await fs.readFile(path.join(home, 'pgdata/postmaster.pid'), 'utf8')).split('\n')[0]);
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
    const wh = open((l) => lines.push(l));
    expect(existsSync(home)).toBe(false); // nothing starts before the first query
    const { rows } = await (await wh.pool()).query<{ addr: string }>(`select inet_server_addr()::text as addr`);
    expect(rows[0]!.addr).toBe('127.0.0.1/32');
    expect(lines.some((l) => l.startsWith('Initialising'))).toBe(true);
    expect((await fs.stat(path.join(home, 'password'))).mode & 0o777).toBe(0o600);
    const pid = await postmasterPid();
    await wh.destroy();
    expect(alive(pid)).toBe(false);
    expect(existsSync(path.join(home, 'pgdata/postmaster.pid'))).toBe(false);
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

  it('refuses to share a server another live process is using, and takes over one whose process was killed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/helpers/hold-warehouse.ts')], {
      cwd: ROOT,
      env: { ...process.env, SPARKIFY_HOME: home, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout!, 'data');
    const orphan = await postmasterPid();

    const busy = open();
    await expect(busy.pool()).rejects.toThrow(/in use by another sparkify process \(pid \d+\)/);
    await busy.destroy();

    child.kill('SIGKILL'); // the server outlives its owner
    await once(child, 'exit');
    expect(alive(orphan)).toBe(true);

    const next = open();
    await (await next.pool()).query('select 1');
    expect(alive(orphan)).toBe(false);
    await next.destroy();
  });
});
