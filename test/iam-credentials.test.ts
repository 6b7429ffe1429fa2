import { randomBytes } from 'node:crypto';
import { GetClusterCredentialsCommand, GetClusterCredentialsWithIAMCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { GetCredentialsCommand, RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { explain, report } from '../src/cli/errors.js';
import { loadConfig } from '../src/config.js';
import { openWarehouse } from '../src/db/connection.js';
import { credentialCache, type DbCredentials } from '../src/db/credentials.js';
import { awsIamClients, iamMint, IamNotAuthorisedError, type IamLogin } from '../src/db/redshift/iam.js';

// AWS is mocked here (aws-sdk-client-mock); the emulation's own minting is tested in iam-emulator.test.ts.
const redshift = mockClient(RedshiftClient);
const serverless = mockClient(RedshiftServerlessClient);
beforeEach(() => {
  redshift.reset();
  serverless.reset();
});
afterAll(() => {
  redshift.restore();
  serverless.restore();
});

const CLUSTER_HOST = 'sparkify-dwh.c1a2b3c4d5e6.us-west-2.redshift.amazonaws.com';
const SERVERLESS_HOST = 'sparkify-dwh.123456789012.eu-central-1.redshift-serverless.amazonaws.com';
const config = (env: Record<string, string>) => loadConfig({ SPARKIFY_TARGET: 'redshift', REDSHIFT_AUTH: 'iam', ...env }, '/');
/** The error a promise rejects with (a resolved one fails the test). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );
const inMinutes = (m: number, from = Date.now()) => new Date(from + m * 60_000);

describe('which credential API an IAM login uses, from the configuration', () => {
  it('a cluster endpoint: GetClusterCredentialsWithIAM for the mapped user, region and cluster read from the host', () => {
    expect(config({ REDSHIFT_HOST: CLUSTER_HOST, REDSHIFT_DATABASE: 'sparkify' }).redshift?.iam).toEqual({
      api: 'GetClusterCredentialsWithIAM',
      cluster: 'sparkify-dwh',
      database: 'sparkify',
      region: 'us-west-2',
      durationSeconds: 3600,
    });
  });
  it('REDSHIFT_USER: GetClusterCredentials for that user, AutoCreate only when asked', () => {
    const c = config({ REDSHIFT_HOST: CLUSTER_HOST, REDSHIFT_USER: 'etl', REDSHIFT_AUTO_CREATE: 'true', REDSHIFT_IAM_DURATION: '900' });
    expect(c.redshift?.iam).toMatchObject({ api: 'GetClusterCredentials', user: 'etl', autoCreate: true, durationSeconds: 900 });
    expect(c.redshift?.password).toBe('');
  });
  it('a Serverless endpoint (or REDSHIFT_WORKGROUP): GetCredentials for the workgroup', () => {
    expect(config({ REDSHIFT_HOST: SERVERLESS_HOST }).redshift?.iam).toMatchObject({ api: 'GetCredentials', workgroup: 'sparkify-dwh', region: 'eu-central-1', database: 'dev' });
    expect(config({ REDSHIFT_HOST: 'db.internal', REDSHIFT_WORKGROUP: 'wg-1', AWS_REGION: 'us-east-1' }).redshift?.iam).toMatchObject({ api: 'GetCredentials', workgroup: 'wg-1' });
  });
  it('names what is missing or contradictory, without a password ever being needed', () => {
    expect(() => config({ REDSHIFT_HOST: 'db.internal', AWS_REGION: 'us-east-1' })).toThrow(/REDSHIFT_CLUSTER .*or REDSHIFT_WORKGROUP/);
    expect(() => config({ REDSHIFT_HOST: SERVERLESS_HOST, REDSHIFT_USER: 'etl' })).toThrow(/REDSHIFT_USER cannot choose the user of a Serverless IAM login/);
    expect(() => config({ REDSHIFT_HOST: CLUSTER_HOST, REDSHIFT_IAM_DURATION: '60' })).toThrow(/REDSHIFT_IAM_DURATION: must be 900 to 3600 seconds/);
    expect(() => loadConfig({ SPARKIFY_TARGET: 'redshift', REDSHIFT_HOST: CLUSTER_HOST, REDSHIFT_USER: 'u' }, '/')).toThrow(/REDSHIFT_PASSWORD .*or REDSHIFT_AUTH=iam/);
  });
});

describe('minting (AWS mocked)', () => {
  const clients = awsIamClients('us-west-2');
  const expiration = inMinutes(60);

  it('GetClusterCredentialsWithIAM: the cluster, database and duration asked; the mapped user and password returned', async () => {
    redshift.on(GetClusterCredentialsWithIAMCommand).resolves({ DbUser: 'IAMR:etl', DbPassword: 'pw-1', Expiration: expiration });
    const login: IamLogin = { api: 'GetClusterCredentialsWithIAM', cluster: 'sparkify-dwh', database: 'sparkify', region: 'us-west-2', durationSeconds: 1800 };
    expect(await iamMint(login, clients)()).toEqual({ user: 'IAMR:etl', password: 'pw-1', expiration, refreshAfter: undefined });
    expect(redshift.commandCalls(GetClusterCredentialsWithIAMCommand)[0]?.args[0].input).toEqual({ ClusterIdentifier: 'sparkify-dwh', DbName: 'sparkify', DurationSeconds: 1800 });
  });

  it('GetClusterCredentials: DbUser and AutoCreate as configured', async () => {
    redshift.on(GetClusterCredentialsCommand).resolves({ DbUser: 'IAMA:etl', DbPassword: 'pw-2', Expiration: expiration });
    const login: IamLogin = { api: 'GetClusterCredentials', cluster: 'c', database: 'd', region: 'us-west-2', durationSeconds: 900, user: 'etl', autoCreate: true };
    expect((await iamMint(login, clients)()).user).toBe('IAMA:etl');
    expect(redshift.commandCalls(GetClusterCredentialsCommand)[0]?.args[0].input).toEqual({ ClusterIdentifier: 'c', DbName: 'd', DbUser: 'etl', AutoCreate: true, DurationSeconds: 900 });
  });

  it('Serverless GetCredentials: the workgroup; its advised refresh time is kept', async () => {
    const next = inMinutes(30);
    serverless.on(GetCredentialsCommand).resolves({ dbUser: 'IAMR:etl', dbPassword: 'pw-3', expiration, nextRefreshTime: next });
    const login: IamLogin = { api: 'GetCredentials', workgroup: 'wg', database: 'dev', region: 'us-west-2', durationSeconds: 3600 };
    expect(await iamMint(login, clients)()).toEqual({ user: 'IAMR:etl', password: 'pw-3', expiration, refreshAfter: next });
    expect(serverless.commandCalls(GetCredentialsCommand)[0]?.args[0].input).toEqual({ workgroupName: 'wg', dbName: 'dev', durationSeconds: 3600 });
  });

  it('an identity that may not mint: the API, the target and the policy statement to add', async () => {
    const denied = (action: string, resource: string) =>
      Object.assign(new Error(`User: arn:aws:iam::123456789012:user/alice is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`), {
        name: 'AccessDenied',
      });
    redshift.on(GetClusterCredentialsWithIAMCommand).rejects(denied('redshift:GetClusterCredentialsWithIAM', 'arn:aws:redshift:us-west-2:123456789012:dbname:sparkify-dwh/sparkify'));
    const login: IamLogin = { api: 'GetClusterCredentialsWithIAM', cluster: 'sparkify-dwh', database: 'sparkify', region: 'us-west-2', durationSeconds: 3600 };
    const error = await failure(iamMint(login, clients)());
    expect(error).toBeInstanceOf(IamNotAuthorisedError);
    expect(error.message).toMatch(/^not authorised to GetClusterCredentialsWithIAM on cluster sparkify-dwh: add this statement to your IAM policy/);
    const statement = JSON.parse(error.message.slice(error.message.indexOf('{')));
    expect(statement).toEqual({ Effect: 'Allow', Action: 'redshift:GetClusterCredentialsWithIAM', Resource: 'arn:aws:redshift:us-west-2:123456789012:dbname:sparkify-dwh/sparkify' });
    // The CLI prints it as it is, statement included, without a stack.
    expect(explain(error).message).toBe(error.message);

    serverless.on(GetCredentialsCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const sls = await failure(iamMint({ api: 'GetCredentials', workgroup: 'wg', database: 'dev', region: 'eu-west-1', durationSeconds: 900 }, clients)());
    expect(sls.message).toMatch(/not authorised to GetCredentials on workgroup wg/);
    expect(JSON.parse(sls.message.slice(sls.message.indexOf('{')))).toMatchObject({ Action: 'redshift-serverless:GetCredentials' });

    redshift.on(GetClusterCredentialsCommand).rejects(Object.assign(new Error('x'), { name: 'UnauthorizedOperation' }));
    const named = await failure(iamMint({ api: 'GetClusterCredentials', cluster: 'c', database: 'd', region: 'us-west-2', durationSeconds: 900, user: 'etl', autoCreate: true }, clients)());
    expect(JSON.parse(named.message.slice(named.message.indexOf('{')))).toEqual({
      Effect: 'Allow',
      Action: ['redshift:GetClusterCredentials', 'redshift:CreateClusterUser'],
      Resource: ['arn:aws:redshift:us-west-2:<account-id>:dbuser:c/etl', 'arn:aws:redshift:us-west-2:<account-id>:dbname:c/d'],
    });
  });

  it('a cluster that does not exist names the setting to check', async () => {
    redshift.on(GetClusterCredentialsWithIAMCommand).rejects(Object.assign(new Error('Cluster nope not found.'), { name: 'ClusterNotFoundFault' }));
    const login: IamLogin = { api: 'GetClusterCredentialsWithIAM', cluster: 'nope', database: 'dev', region: 'us-west-2', durationSeconds: 900 };
    await expect(iamMint(login, clients)()).rejects.toThrow('cluster nope was not found in us-west-2: check REDSHIFT_CLUSTER and AWS_REGION');
  });
});

describe('refreshing before expiry (a fake clock)', () => {
  /** A mint whose logins live `lifeMin` minutes from the fake clock's now, numbered. */
  function counting(clock: { now: number }, lifeMin: number, advise?: number) {
    let n = 0;
    return async (): Promise<DbCredentials> => {
      n++;
      return { user: 'IAMR:etl', password: `pw-${n}`, expiration: inMinutes(lifeMin, clock.now), refreshAfter: advise === undefined ? undefined : inMinutes(advise, clock.now) };
    };
  }

  it('an hour-long run with 15-minute logins: a new one within five minutes of each expiry, never an expired one', async () => {
    const clock = { now: Date.UTC(2026, 10, 26, 12) };
    const cache = credentialCache(counting(clock, 15), () => clock.now);
    const start = clock.now;
    const seen: string[] = [];
    // A connection every minute for an hour, as a long ETL's pool opens them.
    for (let minute = 0; minute <= 60; minute++) {
      clock.now = start + minute * 60_000;
      const creds = await cache.current();
      // Never handed out a login that expires within the next minute.
      expect(creds.expiration.getTime() - clock.now).toBeGreaterThan(60_000);
      seen.push(creds.password);
    }
    // 15-minute logins refreshed 3.75 minutes before expiry (a quarter of their life): at 0, 12, 24, 36, 48, 60.
    expect([...new Set(seen)]).toEqual(['pw-1', 'pw-2', 'pw-3', 'pw-4', 'pw-5', 'pw-6']);
    expect(seen.indexOf('pw-2')).toBe(12);
    expect(cache.minted).toBe(6);
  });

  it('refreshes at the advised time when it comes first, and ignores one already past', async () => {
    const clock = { now: Date.UTC(2026, 10, 26, 12) };
    const cache = credentialCache(counting(clock, 60, 30), () => clock.now);
    await cache.current();
    clock.now += 29 * 60_000;
    expect((await cache.current()).password).toBe('pw-1');
    clock.now += 2 * 60_000;
    expect((await cache.current()).password).toBe('pw-2');
    const past = credentialCache(counting(clock, 60, -1), () => clock.now);
    await past.current();
    clock.now += 50 * 60_000;
    expect((await past.current()).password).toBe('pw-1');
  });

  it('concurrent connections share one mint', async () => {
    let calls = 0;
    const cache = credentialCache(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return { user: 'u', password: 'p', expiration: inMinutes(15) };
    });
    await Promise.all([cache.current(), cache.current(), cache.current()]);
    expect(calls).toBe(1);
  });
});

describe('the Redshift target logging in with minted credentials (AWS mocked, PostgreSQL standing in for the endpoint)', () => {
  // A real login on the test server, minted by the mocked API: the target's own pool code logs in with it.
  const admin = () => new pg.Client({ connectionString: inject('adminUrl') });
  const role = `IAMR:mock-${randomBytes(3).toString('hex')}`;
  const server = new URL(inject('adminUrl'));
  const env = { REDSHIFT_URL: `postgres://${server.host}${server.pathname}?sslmode=disable`, REDSHIFT_CLUSTER: 'sparkify-dwh', AWS_REGION: 'us-west-2' };

  it('connects as the minted user, and no password appears in any output: descriptions, logs, errors, debug stacks', async () => {
    const password = `Minted-${randomBytes(12).toString('hex')}`;
    const c = admin();
    await c.connect();
    await c.query(`create role ${pg.escapeIdentifier(role)} login password ${pg.escapeLiteral(password)} valid until ${pg.escapeLiteral(inMinutes(15).toISOString())}`);
    await c.end();
    redshift.on(GetClusterCredentialsWithIAMCommand).resolves({ DbUser: role, DbPassword: password, Expiration: inMinutes(15) });
    const lines: string[] = [];
    const wh = openWarehouse({ config: config(env), log: (l) => lines.push(l) });
    try {
      const who = await sql<{ u: string }>`select current_user as u`.execute(wh.db);
      expect(who.rows[0]?.u).toBe(role);
      lines.push(wh.describe(), JSON.stringify(wh.redshift), JSON.stringify(config(env)));
    } finally {
      await wh.destroy();
    }
    // A wrong password: the error, as the CLI prints it with --debug, holds no password either.
    const wrong = `Wrong-${randomBytes(12).toString('hex')}`;
    redshift.on(GetClusterCredentialsWithIAMCommand).resolves({ DbUser: role, DbPassword: wrong, Expiration: inMinutes(15) });
    const failing = openWarehouse({ config: config(env) });
    const error = await sql`select 1`.execute(failing.db).then(() => undefined, (e: unknown) => e);
    await failing.destroy();
    expect(error).toBeDefined();
    report(error, { warehouse: failing.describe() }, true, (s) => lines.push(s) > 0);
    const output = lines.join('\n');
    expect(output).toContain('The IAM login was refused');
    expect(output).not.toContain(password);
    expect(output).not.toContain(wrong);
    const d = admin();
    await d.connect();
    await d.query(`drop role ${pg.escapeIdentifier(role)}`);
    await d.end();
  });
});
