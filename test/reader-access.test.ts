import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantReader } from '../src/db/access.js';
import { openWarehouse, type Warehouse } from '../src/db/connection.js';
import { loadConfig } from '../src/config.js';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { STAR_TABLES } from '../src/types/database.js';
import { sparkify } from './helpers/cli.js';
import { dropRole, openTestWarehouse } from './helpers/db.js';
import { writeTree } from './helpers/files.js';

type TestWarehouse = Awaited<ReturnType<typeof openTestWarehouse>>;
const BOOKKEEPING = ['load_errors', 'loaded_files', 'etl_runs', 'etl_run_files', 'staging_events', 'staging_songs'] as const;


/** The error code a statement fails with, or 'ok'. */
async function outcome(wh: Warehouse, statement: string): Promise<string> {
  return sql.raw(statement).execute(wh.db).then(
    () => 'ok',
    (e: { code?: string }) => e.code ?? 'error',
  );
}

// The same on both targets: the reader group's privileges, and the read-only session on top.
describe.each(['postgres', 'redshift-emulator'] as const)('a sparkify_reader login (%s)', (target) => {
  const user = `analyst_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  let wh: TestWarehouse;
  let readerUrl: string;
  const open = (readOnly: boolean) => {
    const env = target === 'redshift-emulator' ? { SPARKIFY_TARGET: target, SPARKIFY_S3_ROOT: wh.s3Root! } : {};
    return openWarehouse({ config: { ...loadConfig({ DATABASE_URL: readerUrl, ...env }, '/') }, readOnly });
  };

  beforeAll(async () => {
    wh = await openTestWarehouse({ target });
    const dir = await writeTree({});
    await generate({ out: dir, songs: 20, events: 400, seed: 21, days: 2 });
    await runEtl(wh, { songsDir: `${dir}/song_data`, logsDir: `${dir}/log_data` });
    // A user made the way an administrator would, on either target (Redshift's CREATE USER syntax).
    await sql.raw(`create user ${user} password '${password}'`).execute(wh.db);
    const url = new URL(wh.url);
    url.username = user;
    url.password = password;
    readerUrl = url.toString();
  });
  afterAll(async () => {
    await wh?.close();
    await dropRole(user);
  });

  it('may read the star tables once granted, and only then', async () => {
    const before = open(false);
    try {
      expect(await outcome(before, 'select count(*) from songplays')).toBe('42501');
    } finally {
      await before.destroy();
    }
    await grantReader(wh.db, user);
    const reader = open(true);
    try {
      for (const table of STAR_TABLES) expect(await outcome(reader, `select count(*) from "${table}"`)).toBe('ok');
      const plays = await sql<{ n: number }>`select count(*) as n from songplays`.execute(reader.db);
      expect(Number(plays.rows[0]?.n)).toBeGreaterThan(0);
    } finally {
      await reader.destroy();
    }
  });

  it('cannot write, truncate or read staging and the bookkeeping (raw rejected records): not even in a writable session', async () => {
    await grantReader(wh.db, user);
    for (const readOnly of [false, true]) {
      const reader = open(readOnly);
      // Refused for want of privilege (42501); a read-only session may refuse first for being read-only (25006).
      const refused = readOnly ? ['42501', '25006'] : ['42501'];
      try {
        expect(refused).toContain(await outcome(reader, "insert into users (user_id, first_name, last_name, gender, level, last_seen_at) values (999999, 'x', 'y', 'F', 'free', now())"));
        expect(refused).toContain(await outcome(reader, 'delete from songplays'));
        expect(refused).toContain(await outcome(reader, "update songs set title = 'x'"));
        expect(refused).toContain(await outcome(reader, 'truncate songplays'));
        for (const table of BOOKKEEPING) expect(await outcome(reader, `select * from ${table}`)).toBe('42501');
        // The emulation's load-error views keep raw rejected text too: out of a reader's reach.
        if (target === 'redshift-emulator') expect(await outcome(reader, 'select * from sys_load_error_detail')).toBe('42501');
      } finally {
        await reader.destroy();
      }
    }
    const plays = await wh.db.selectFrom('songplays').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(plays.n)).toBeGreaterThan(0);
  });

  it('a read-only session refuses writes even for the owner', async () => {
    const env = target === 'redshift-emulator' ? { SPARKIFY_TARGET: target, SPARKIFY_S3_ROOT: wh.s3Root! } : {};
    const owner = openWarehouse({ config: loadConfig({ DATABASE_URL: wh.url, ...env }, '/'), readOnly: true });
    try {
      expect(await outcome(owner, 'select count(*) from load_errors')).toBe('ok');
      expect(await outcome(owner, "update songs set title = 'x'")).toBe('25006'); // read_only_sql_transaction
    } finally {
      await owner.destroy();
    }
  });
});

describe('sparkify grant-reader', () => {
  let wh: TestWarehouse;
  const user = `cli_analyst_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    wh = await openTestWarehouse();
  });
  afterAll(async () => {
    await wh?.close();
    await dropRole(user);
  });

  it('adds an existing user to sparkify_reader, and says what to do for one that does not exist', async () => {
    const missing = await sparkify(['grant-reader', user], { DATABASE_URL: wh.url });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`there is no database user "${user}": create it first`);
    expect(missing.stderr).not.toContain('    at ');
    await sql.raw(`create user ${user} password 'Pw-${randomBytes(6).toString('hex')}'`).execute(wh.db);
    const ok = await sparkify(['grant-reader', user], { DATABASE_URL: wh.url });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(`${user} is in sparkify_reader`);
    const member = await sql<{ n: number }>`select count(*) as n from pg_group g join pg_user u on u.usesysid = any(g.grolist) where g.groname = 'sparkify_reader' and u.usename = ${user}`.execute(wh.db);
    expect(Number(member.rows[0]?.n)).toBe(1);
  });
});
