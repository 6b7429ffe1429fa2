import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../src/cli/errors.js';
import { LocalCredentialIssuer } from '../src/db/emulator/credentials.js';
import { runEtl } from '../src/etl/pipeline.js';
import { generate } from '../src/generate/generator.js';
import { dropRole, openTestWarehouse } from './helpers/db.js';
import { HAS_SAMPLE, SAMPLE_DIR, writeTree } from './helpers/files.js';
import { starSnapshot } from './helpers/snapshot.js';

type TestWarehouse = Awaited<ReturnType<typeof openTestWarehouse>>;
// A login's life, shortened so that a test sees refreshes. Not much shorter: at 2.5 s a loaded CI
// machine once failed a login with a freshly minted password, which either expired before the
// connection got to log in or was replaced by the next mint (PostgreSQL keeps one password per role;
// a mint slower than the life less its margin mints again).
const LIFETIME_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where the pipeline reads: the real sample, or a generated set where it is absent. */
async function dataDir(): Promise<string> {
  if (HAS_SAMPLE) return SAMPLE_DIR;
  const dir = await writeTree({});
  await generate({ out: dir, songs: 60, events: 3000, seed: 15, days: 5 });
  return dir;
}

// The whole pipeline with REDSHIFT_AUTH=iam: minted logins (the emulation's stand-in for AWS's
// credential APIs creates real roles with VALID UNTIL), migrate and ETL as the mapped user.
describe.each([
  ['serverless', 'GetCredentials'],
  ['provisioned', 'GetClusterCredentialsWithIAM'],
] as const)('IAM login on the Redshift emulation (%s: %s)', (flavour, api) => {
  const identity = `arn:aws:sts::123456789012:assumed-role/sparkify-etl-${flavour}/session-1`;
  let iam: TestWarehouse;
  let reference: TestWarehouse;
  let dir: string;
  beforeAll(async () => {
    dir = await dataDir();
    [iam, reference] = await Promise.all([
      openTestWarehouse({ target: 'redshift-emulator', flavour, env: { REDSHIFT_AUTH: 'iam', SPARKIFY_EMULATOR_IDENTITY: identity }, credentialLifetimeMs: LIFETIME_MS }),
      openTestWarehouse({ target: 'redshift-emulator', flavour }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([iam?.close(), reference?.close()]);
    await dropRole(`IAMR:sparkify-etl-${flavour}`);
  });

  it(`uses ${api}, logs in as the mapped user, and migrates and loads as it: the same star tables as a password login`, async () => {
    expect(iam.redshift?.iam?.api).toBe(api);
    const who = await sql<{ u: string }>`select current_user as u`.execute(iam.db);
    expect(who.rows[0]?.u).toBe(`IAMR:sparkify-etl-${flavour}`);
    expect(LocalCredentialIssuer.mappedUser(identity)).toBe(`IAMR:sparkify-etl-${flavour}`);
    const songsDir = path.join(dir, 'song_data');
    const logsDir = path.join(dir, 'log_data');
    const [a, b] = await Promise.all([runEtl(iam, { songsDir, logsDir }), runEtl(reference, { songsDir, logsDir })]);
    expect(a.tables).toEqual(b.tables);
    expect(a.tables.songplays).toBeGreaterThan(0);
    expect(await starSnapshot(iam.db)).toEqual(await starSnapshot(reference.db));
    // The mapped user created the tables (migrate ran as it), so it owns them.
    const owners = await sql<{ owner: string }>`select distinct tableowner as owner from pg_tables where tablename = 'songplays'`.execute(iam.db);
    expect(owners.rows.map((r) => r.owner)).toEqual([`IAMR:sparkify-etl-${flavour}`]);
  });

  it('mints a new login before the last expires, so connections made late in a long run still log in', async () => {
    const before = iam.mintedLogins();
    expect(before).toBeGreaterThanOrEqual(1);
    const pool = await iam.pool();
    // No idle connection may stand in for a new one: close them all.
    const idle = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
    for (const c of idle) c.release(true);
    // Past the last login's life: every new connection needs a fresh password (the old one is
    // refused by the server, VALID UNTIL having passed and the role's password having changed).
    await sleep(LIFETIME_MS + 200);
    const connected = await Promise.allSettled([1, 2, 3, 4].map(() => pool.connect()));
    const clients = connected.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
    try {
      // Every client is released whatever happens, or closing the pool would wait for them.
      expect(connected.map((c) => (c.status === 'rejected' ? String(c.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);
      for (const c of clients) expect((await c.query('select 1 as one')).rows[0].one).toBe(1);
    } finally {
      for (const c of clients) c.release();
    }
    expect(iam.mintedLogins()).toBeGreaterThan(before);
    // And the pipeline still runs end to end with the refreshed login.
    const again = await runEtl(iam, { songsDir: path.join(dir, 'song_data'), logsDir: path.join(dir, 'log_data') });
    expect(again.transform.songplays).toMatchObject({ inserted: 0 });
  });
});

describe('GetClusterCredentials for a named database user (REDSHIFT_USER)', () => {
  const user = `named_${Date.now().toString(36)}`;
  it('fails to log in as a user that does not exist, saying what to set; REDSHIFT_AUTO_CREATE=true creates it', async () => {
    const missing = await openTestWarehouse({ target: 'redshift-emulator', flavour: 'provisioned', migrate: false, env: { REDSHIFT_AUTH: 'iam', REDSHIFT_USER: user } });
    try {
      expect(missing.redshift?.iam).toMatchObject({ api: 'GetClusterCredentials', user, autoCreate: false });
      const error = await sql`select 1`.execute(missing.db).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      const { message } = explain(error, { warehouse: missing.describe() });
      expect(message).toContain('The IAM login was refused');
      expect(message).toContain('REDSHIFT_AUTO_CREATE=true');
    } finally {
      await missing.close();
    }
    const created = await openTestWarehouse({
      target: 'redshift-emulator',
      flavour: 'provisioned',
      migrate: false,
      env: { REDSHIFT_AUTH: 'iam', REDSHIFT_USER: user, REDSHIFT_AUTO_CREATE: 'true' },
    });
    try {
      const who = await sql<{ u: string }>`select current_user as u`.execute(created.db);
      expect(who.rows[0]?.u).toBe(user);
    } finally {
      await created.close();
      await dropRole(user);
    }
  });
});
