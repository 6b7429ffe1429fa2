import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AuthorizeSecurityGroupIngressCommand, type EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  type IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { RedshiftClient } from '@aws-sdk/client-redshift';
import type { RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import { ensureReaderGroup, READER_GROUP } from '../db/access.js';
import { openWarehouse, type Warehouse } from '../db/connection.js';
import { parseS3Uri } from '../db/redshift/values.js';
import { type Compute, type ComputeState, clusterCompute, ignoring, serverlessCompute } from './compute.js';
import type { ProvisionOptions } from './options.js';

/** The AWS clients provisioning uses (tests pass mocked ones). */
export interface AwsClients {
  redshift: RedshiftClient;
  iam: IAMClient;
  ec2: EC2Client;
  serverless: RedshiftServerlessClient;
}

/** The compute the options ask for: a provisioned cluster, or Serverless with --serverless. */
export function computeFor(aws: AwsClients, o: ProvisionOptions): Compute {
  return o.serverless ? serverlessCompute(aws.serverless, o) : clusterCompute(aws.redshift, o);
}

/** A noun with its first letter in capitals, to start a sentence. */
const capitalised = (noun: string) => noun[0]!.toUpperCase() + noun.slice(1);

/** What this project created, so that teardown removes that and nothing else. */
interface State {
  identifier: string;
  region: string;
  roleName: string;
  roleCreated: boolean;
  ingress?: { groupId: string; cidr: string; port: number };
  /** With IAM login: the generated admin password, kept (0600) only until the database is prepared and Redshift manages it. */
  adminPassword?: string;
}

/** Opens the new warehouse as its admin, for the one-time database setup (tests open the emulation). */
export type OpenAdmin = (endpoint: { address: string; port: number }, database: string, user: string, password: string) => Warehouse;

/** The admin's connection to the real endpoint: TLS, password login. */
export const openAdminOverTls: OpenAdmin = (endpoint, database, user, password) =>
  openWarehouse({
    config: {
      target: 'redshift',
      home: '',
      songsDir: '',
      logsDir: '',
      redshift: { host: endpoint.address, port: endpoint.port, database, user, password, auth: 'password', ssl: true },
    },
  });

/** The one statement IAM login needs from an administrator (the group migrate grants reads to). */
const ADMIN_SETUP_SQL = `create group ${READER_GROUP};`;

const MANAGED_S3_READ_ONLY = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const INLINE_POLICY = 'sparkify-s3-read';

/** A provisioning step failed; the message says what exists now. */
export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

/**
 * Who may assume the role: Redshift, and for Serverless also Redshift Serverless
 * (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-security-other-services.html).
 */
export function trustPolicy(serverless: boolean): string {
  const services = serverless ? ['redshift.amazonaws.com', 'redshift-serverless.amazonaws.com'] : 'redshift.amazonaws.com';
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: services }, Action: 'sts:AssumeRole' }] });
}

/** Every prefix the role may read, each ending with "/" so that s3://b/log grants no s3://b/log_secret. */
export function readablePrefixes(o: Pick<ProvisionOptions, 's3' | 'sources'>): string[] {
  const all = [...(o.s3 ? [o.s3] : []), ...(o.sources ?? [])].map((p) => (p.endsWith('/') ? p : `${p}/`));
  return [...new Set(all)];
}

/**
 * Read access to these prefixes only: what COPY needs (get the objects, list under the prefixes, the
 * bucket's region). Listing is limited to the prefixes by the s3:prefix condition
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
 */
export function s3ReadPolicy(prefixes: string[]): string {
  const buckets = new Map<string, string[]>();
  for (const p of prefixes) {
    const { bucket, key } = parseS3Uri(p);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), key]);
  }
  const statements = [...buckets].flatMap(([bucket, keys]) => {
    const whole = keys.includes('');
    return [
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: keys.map((k) => `arn:aws:s3:::${bucket}/${k}*`) },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [`arn:aws:s3:::${bucket}`],
        ...(whole ? {} : { Condition: { StringLike: { 's3:prefix': keys.map((k) => `${k}*`) } } }),
      },
      { Effect: 'Allow', Action: ['s3:GetBucketLocation'], Resource: [`arn:aws:s3:::${bucket}`] },
    ];
  });
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** A password Redshift accepts (8–64 characters; upper, lower and digit; none of ' " \ / @ or space). */
export function generatePassword(length = 32): string {
  const sets = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#$%^&*()-_=+'];
  const all = sets.join('');
  const chars = sets.map((s) => s[randomInt(s.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** Every resource and setting provisioning would create, as lines; needs no credentials. */
export function provisionPlan(o: ProvisionOptions): string[] {
  const compute = computeFor(NO_CLIENTS, o);
  return [
    `Region: ${o.region}`,
    `IAM role ${o.roleName}: trusted by redshift.amazonaws.com${o.serverless ? ' and redshift-serverless.amazonaws.com' : ''}; ${
      o.managedS3ReadOnly
        ? `managed policy ${MANAGED_S3_READ_ONLY}`
        : `inline policy ${INLINE_POLICY}: s3:GetObject and s3:ListBucket (limited to the prefix) on ${readablePrefixes(o).join(', ')}; s3:GetBucketLocation on their buckets`
    }`,
    compute.plan,
    ...authPlan(o, compute.noun),
    o.publicFrom ? `Ingress: TCP ${o.port} from ${o.publicFrom}/32 only, on the ${compute.noun}'s VPC security group` : `Ingress: none added (reach the ${compute.noun} from inside its VPC)`,
    `Wait: until the ${compute.noun} is available (at most ${o.waitSeconds} s)`,
    'Then: write the connection config that migrations and the ETL read',
  ];
}

/** How the ETL will log in, what the database needs for it, and where the admin password goes. */
function authPlan(o: ProvisionOptions, noun: string): string[] {
  if (o.auth === 'password') {
    return [
      o.managedPassword
        ? 'Admin password: generated and kept by Redshift in AWS Secrets Manager'
        : 'Admin password: generated here, never printed, saved in the local config file (mode 0600)',
      'Database login: the admin user with its password (REDSHIFT_AUTH=password)',
    ];
  }
  const api = o.serverless ? 'redshift-serverless:GetCredentials' : 'redshift:GetClusterCredentialsWithIAM';
  return [
    `Database login: IAM (REDSHIFT_AUTH=iam): ${api} mints 1-hour logins for the database user mapped from your AWS identity (IAM:<user> or IAMR:<role>); the config file holds no password. Your identity needs ${api} on this ${noun}: the error names the statement if it lacks it`,
    o.managedPassword
      ? `Admin password: kept by Redshift in AWS Secrets Manager; run "${ADMIN_SETUP_SQL}" once as the admin (e.g. in query editor v2)`
      : 'Admin password: generated here, never printed, used once for the database setup, then handed to Redshift to keep in AWS Secrets Manager (ManageMasterPassword); not stored here',
    `Database setup, as the admin${o.publicFrom ? '' : ` (only if the ${noun} is reachable from here, i.e. with --public-from; else printed for you to run)`}: "${ADMIN_SETUP_SQL}". Your mapped user is created at its first login, may create tables in schema public (Redshift's default), and owns what its first migrate creates; migrate grants the group SELECT on the star tables, and grant-reader adds analysts to it`,
  ];
}

/** The lines teardown would carry out; needs no credentials. */
export function teardownPlan(o: ProvisionOptions, finalSnapshot?: string): string[] {
  return [
    `Region: ${o.region}`,
    computeFor(NO_CLIENTS, o).teardownPlan(finalSnapshot),
    'Revoke the ingress rule provisioning added, if any',
    `Delete IAM role ${o.roleName} and its policy, if provisioning created it`,
    'Remove the local connection config and state files',
  ];
}

/** AWS's error as a sentence a user can act on. */
export function explainAwsError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  const name = e.name ?? 'Error';
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/.test(name)) return `access denied (${e.message ?? name}): the credentials lack this permission`;
  if (/Quota|LimitExceeded/.test(name)) return `an AWS quota is reached (${name}): free capacity or ask AWS for more`;
  if (/AlreadyExists|EntityAlreadyExists/.test(name)) return `the name is taken (${name}): choose another identifier or role name`;
  if (name === 'TimeoutError' || /timed? ?out/i.test(e.message ?? '')) return 'timed out waiting: AWS is still working on it; run the same command again to keep waiting';
  return `${name}: ${e.message ?? ''}`.trim();
}

/** The role's ARN, or undefined when there is no such role. */
async function findRoleArn(aws: AwsClients, roleName: string): Promise<string | undefined> {
  return (await ignoring(/^NoSuchEntity/, () => aws.iam.send(new GetRoleCommand({ RoleName: roleName }))))?.Role?.Arn;
}

// Plans are printed without credentials: the compute objects are built, never sent anything.
const NO_CLIENTS = {} as AwsClients;

interface Paths {
  config: string;
  state: string;
}

function paths(home: string): Paths {
  return { config: path.join(home, 'redshift.json'), state: path.join(home, 'provisioned.json') };
}

async function writePrivate(file: string, data: unknown) {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600); // mode applies only when the file is created
}

/**
 * Creates (or adopts) the role, the cluster or Serverless workgroup and the ingress rule, waits for it, and writes
 * the connection config. Safe to run again: what exists is adopted and what is missing is made.
 */
export async function provision(
  aws: AwsClients,
  o: ProvisionOptions,
  home: string,
  log: (line: string) => void,
  openAdmin: OpenAdmin = openAdminOverTls,
): Promise<ComputeState> {
  const files = paths(home);
  const existingState: Partial<State> = existsSync(files.state) ? JSON.parse(await fs.readFile(files.state, 'utf8')) : {};
  const state: State = {
    identifier: o.identifier,
    region: o.region,
    roleName: o.roleName,
    roleCreated: existingState.roleCreated ?? false,
    ingress: existingState.ingress,
    adminPassword: existingState.adminPassword,
  };
  const done: string[] = [];
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      await writePrivate(files.state, state);
      const exists = done.length ? done.join('; ') : 'nothing new was created';
      throw new ProvisionError(`${what} failed: ${explainAwsError(error)}. What exists now: ${exists}. Run provision again to finish, or teardown to remove it.`);
    }
  };

  // 1. The role COPY assumes.
  let roleArn = await step('Looking up the IAM role', () => findRoleArn(aws, o.roleName));
  if (roleArn) {
    log(`IAM role ${o.roleName} exists: adopted.`);
  } else {
    roleArn = await step(`Creating IAM role ${o.roleName}`, async () => {
      const created = await aws.iam.send(
        new CreateRoleCommand({ RoleName: o.roleName, AssumeRolePolicyDocument: trustPolicy(o.serverless), Description: 'Lets Redshift COPY read Sparkify data from S3' }),
      );
      return created.Role!.Arn!;
    });
    state.roleCreated = true;
    log(`IAM role ${o.roleName} created.`);
  }
  done.push(`IAM role ${o.roleName}`);
  await step('Granting the role S3 read access', async () => {
    if (o.managedS3ReadOnly) await aws.iam.send(new AttachRolePolicyCommand({ RoleName: o.roleName, PolicyArn: MANAGED_S3_READ_ONLY }));
    else await aws.iam.send(new PutRolePolicyCommand({ RoleName: o.roleName, PolicyName: INLINE_POLICY, PolicyDocument: s3ReadPolicy(readablePrefixes(o)) }));
  });

  // 2. The compute: a cluster, or a Serverless namespace and workgroup.
  const compute = computeFor(aws, o);
  const { noun, name } = compute;
  let password: string | undefined;
  let current = await step(`Looking up the ${noun}`, () => compute.describe());
  if (current) {
    log(`${capitalised(noun)} ${name} exists (${current.status}): adopted.`);
    if (!current.roles.includes(roleArn)) await step(`Attaching the role to the ${noun}`, () => compute.attachRole(roleArn!));
  } else {
    password = o.managedPassword ? undefined : generatePassword();
    current = await step(`Creating ${noun} ${name}`, () => compute.create(roleArn!, password));
    log(`${capitalised(noun)} ${name} is being created.`);
    // The password exists only now: keep it before anything else can fail (with IAM, only until
    // the database is prepared and Redshift manages it).
    if (o.auth === 'iam') {
      state.adminPassword = password;
      await writePrivate(files.state, state);
    } else {
      await writePrivate(files.config, connectionConfig(o, current, roleArn, password));
    }
  }
  done.push(`${noun} ${name}`);

  // 3. The port, opened to one address only.
  if (o.publicFrom) {
    const groupId = current.securityGroupId;
    if (!groupId) throw new ProvisionError(`${capitalised(noun)} ${name} has no VPC security group to open: open port ${o.port} yourself. What exists now: ${done.join('; ')}.`);
    const cidr = `${o.publicFrom}/32`;
    const added = await step(`Opening port ${o.port} to ${cidr}`, () =>
      ignoring(/^InvalidPermission\.Duplicate$/, () =>
        aws.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: o.port, ToPort: o.port, IpRanges: [{ CidrIp: cidr, Description: 'sparkify-dwh' }] }] }),
        ),
      ),
    );
    // A rule that was there already (AWS: a duplicate) is adopted, and teardown leaves it, unless an earlier provision added it.
    const ours = added !== undefined || (state.ingress?.groupId === groupId && state.ingress.cidr === cidr && state.ingress.port === o.port);
    if (ours) {
      state.ingress = { groupId, cidr, port: o.port };
      done.push(`ingress ${cidr} → ${o.port}`);
    } else {
      log(`Ingress ${cidr} → ${o.port} exists on ${groupId}: adopted (teardown leaves it).`);
    }
  }
  await writePrivate(files.state, state);

  // 4. Wait, then write the config the ETL reads.
  log(`Waiting for ${noun} ${name} to be available (this takes minutes)…`);
  await step(`Waiting for the ${noun}`, () => compute.waitAvailable(o.waitSeconds));
  const ready = (await step(`Reading the ${noun} endpoint`, () => compute.describe()))!;
  const previous = existsSync(files.config) ? JSON.parse(await fs.readFile(files.config, 'utf8')) : {};
  if (o.auth === 'iam') {
    // A warehouse provisioned for password login: its stored admin password prepares the database
    // and goes to Secrets Manager, instead of being dropped with the old config.
    state.adminPassword ??= previous.REDSHIFT_PASSWORD;
    await prepareForIam(o, compute, ready, state, step, openAdmin, log);
    await writePrivate(files.state, state);
  }
  await writePrivate(files.config, connectionConfig(o, ready, roleArn, o.auth === 'iam' ? undefined : (password ?? previous.REDSHIFT_PASSWORD)));
  log(`${capitalised(noun)} ${name} is available at ${ready.endpoint?.address}:${ready.endpoint?.port}.`);
  log(`Connection config written to ${files.config} (mode 0600). Next: npm run migrate:latest && npm run etl -- --songs <dir> --logs <dir>`);
  return ready;
}

/**
 * IAM login's database side, once, as the admin: the reader group (creating a group needs a
 * superuser: https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_GROUP.html). Then the admin
 * password goes to Secrets Manager, so no copy of it stays here. Where the endpoint cannot be reached
 * from here, the statement is printed for the admin to run.
 */
async function prepareForIam(
  o: ProvisionOptions,
  compute: Compute,
  ready: ComputeState,
  state: State,
  step: <T>(what: string, run: () => Promise<T>) => Promise<T>,
  openAdmin: OpenAdmin,
  log: (line: string) => void,
): Promise<void> {
  const password = state.adminPassword;
  if (!password) {
    if (o.managedPassword) log(`Database setup: run "${ADMIN_SETUP_SQL}" once as the admin (its password is in Secrets Manager), if not done yet.`);
    return;
  }
  if (o.publicFrom && ready.endpoint) {
    await step('Preparing the database for IAM logins (as the admin)', async () => {
      const wh = openAdmin(ready.endpoint!, o.database, o.user, password);
      try {
        await ensureReaderGroup(wh.db);
      } finally {
        await wh.destroy();
      }
    });
    log(`Database prepared for IAM logins: group ${READER_GROUP} exists.`);
  } else {
    log(`Database setup: the ${compute.noun} is not reachable from here; run "${ADMIN_SETUP_SQL}" once as the admin from inside its VPC (e.g. query editor v2).`);
  }
  await step('Handing the admin password to Redshift (Secrets Manager)', () => compute.manageAdminPassword());
  state.adminPassword = undefined;
  log('Admin password: now kept by Redshift in AWS Secrets Manager; no copy is stored here.');
}

/** The settings file the ETL reads (see src/config.ts): with IAM login, where to mint and no password. */
function connectionConfig(o: ProvisionOptions, compute: ComputeState, roleArn: string, password: string | undefined) {
  const login =
    o.auth === 'iam'
      ? { REDSHIFT_AUTH: 'iam', ...(o.serverless ? { REDSHIFT_WORKGROUP: o.identifier } : { REDSHIFT_CLUSTER: o.identifier }) }
      : { REDSHIFT_AUTH: 'password', REDSHIFT_USER: o.user, ...(password ? { REDSHIFT_PASSWORD: password } : {}) };
  return {
    SPARKIFY_TARGET: 'redshift',
    REDSHIFT_HOST: compute.endpoint?.address ?? `${o.identifier}.pending`,
    REDSHIFT_PORT: String(compute.endpoint?.port ?? o.port),
    REDSHIFT_DATABASE: o.database,
    ...login,
    REDSHIFT_IAM_ROLE: roleArn,
    AWS_REGION: o.region,
    ...(o.s3 ? { SPARKIFY_S3_STAGING: o.s3 } : {}),
  };
}

/** What exists: the role, the cluster or workgroup (status and endpoint), the rule and the local files. */
export async function provisionStatus(aws: AwsClients, o: ProvisionOptions, home: string): Promise<string[]> {
  const files = paths(home);
  const role = await findRoleArn(aws, o.roleName).then(
    (arn) => `IAM role ${o.roleName}: ${arn ? `exists (${arn})` : 'absent'}`,
    (error) => `IAM role ${o.roleName}: unknown (${explainAwsError(error)})`,
  );
  const compute = computeFor(aws, o);
  const label = `${capitalised(compute.noun)} ${compute.name}`;
  const cluster = await compute.describe().then(
    (c) => (c ? `${label}: ${c.status}${c.endpoint ? ` at ${c.endpoint.address}:${c.endpoint.port}` : ''}` : `${label}: absent`),
    (error) => `${label}: unknown (${explainAwsError(error)})`,
  );
  const state: Partial<State> = existsSync(files.state) ? JSON.parse(await fs.readFile(files.state, 'utf8')) : {};
  return [
    role,
    cluster,
    state.ingress ? `Ingress: ${state.ingress.cidr} → ${state.ingress.port} on ${state.ingress.groupId}` : 'Ingress: none added',
    `Config: ${existsSync(files.config) ? files.config : 'absent'}`,
  ];
}

/** Deletes the cluster or workgroup, then the rule and role that provisioning created, and the local files. */
export async function teardown(aws: AwsClients, o: ProvisionOptions, home: string, log: (line: string) => void, finalSnapshot?: string): Promise<void> {
  const files = paths(home);
  const state: Partial<State> = existsSync(files.state) ? JSON.parse(await fs.readFile(files.state, 'utf8')) : {};
  const step = async <T>(what: string, run: () => Promise<T>) => {
    try {
      return await run();
    } catch (error) {
      throw new ProvisionError(`${what} failed: ${explainAwsError(error)}. Run teardown again once it is fixed; --status shows what is left.`);
    }
  };
  const compute = computeFor(aws, o);
  log(`Deleting ${compute.noun} ${compute.name} if it exists, and waiting until it is gone…`);
  const removed = await step(`Deleting ${compute.noun} ${compute.name}`, () => compute.remove(o.waitSeconds, finalSnapshot));
  log(removed ? `${capitalised(compute.noun)} ${compute.name} deleted.` : `${capitalised(compute.noun)} ${compute.name} does not exist.`);
  if (state.ingress) {
    const { groupId, cidr, port } = state.ingress;
    await step('Revoking the ingress rule', () =>
      ignoring(/NotFound/, () =>
        aws.ec2.send(
          new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: cidr }] }] }),
        ),
      ),
    );
    log(`Ingress ${cidr} → ${port} revoked.`);
  }
  if (state.roleCreated) {
    await step(`Deleting IAM role ${o.roleName}`, async () => {
      // Whichever policy provision gave it goes first; what is already gone is fine.
      await ignoring(/^NoSuchEntity/, () => aws.iam.send(new DeleteRolePolicyCommand({ RoleName: o.roleName, PolicyName: INLINE_POLICY })));
      await ignoring(/^NoSuchEntity/, () => aws.iam.send(new DetachRolePolicyCommand({ RoleName: o.roleName, PolicyArn: MANAGED_S3_READ_ONLY })));
      await ignoring(/^NoSuchEntity/, () => aws.iam.send(new DeleteRoleCommand({ RoleName: o.roleName })));
    });
    log(`IAM role ${o.roleName} deleted.`);
  } else {
    log(`IAM role ${o.roleName} was not created by provision: left alone.`);
  }
  await fs.rm(files.config, { force: true });
  await fs.rm(files.state, { force: true });
  log('Local connection config removed.');
}
