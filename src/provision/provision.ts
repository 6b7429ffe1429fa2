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
import {
  type Cluster,
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  ModifyClusterIamRolesCommand,
  type RedshiftClient,
  waitUntilClusterAvailable,
  waitUntilClusterDeleted,
} from '@aws-sdk/client-redshift';
import { parseS3Uri } from '../etl/s3.js';
import type { ProvisionOptions } from './options.js';

/** The AWS clients provisioning uses (tests pass mocked ones). */
export interface AwsClients {
  redshift: RedshiftClient;
  iam: IAMClient;
  ec2: EC2Client;
}

/** What this project created, so that teardown removes that and nothing else. */
interface State {
  identifier: string;
  region: string;
  roleName: string;
  roleCreated: boolean;
  ingress?: { groupId: string; cidr: string; port: number };
}

const MANAGED_S3_READ_ONLY = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const INLINE_POLICY = 'sparkify-s3-read';

/** A provisioning step failed; the message says what exists now. */
export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

const trustPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'redshift.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/** Read access to one bucket prefix only: what COPY needs (list, get, and the bucket's region). */
export function s3ReadPolicy(s3: string): string {
  const { bucket, key } = parseS3Uri(s3);
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/${key}*`] },
      { Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: [`arn:aws:s3:::${bucket}`] },
    ],
  });
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
  return [
    `Region: ${o.region}`,
    `IAM role ${o.roleName}: trusted by redshift.amazonaws.com; ${o.managedS3ReadOnly ? `managed policy ${MANAGED_S3_READ_ONLY}` : `inline policy ${INLINE_POLICY}: s3:GetObject on ${o.s3}*, s3:ListBucket and s3:GetBucketLocation on its bucket`}`,
    `Redshift cluster ${o.identifier}: ${o.nodes} × ${o.nodeType} (${o.nodes > 1 ? 'multi-node' : 'single-node'}), database ${o.database}, admin ${o.user}, port ${o.port}, encrypted at rest, ${o.publicFrom ? 'publicly accessible' : 'not publicly accessible'}, role ${o.roleName} attached`,
    o.managedPassword
      ? 'Admin password: generated and kept by Redshift in AWS Secrets Manager (ManageMasterPassword)'
      : 'Admin password: generated here, never printed, saved in the local config file (mode 0600)',
    o.publicFrom ? `Ingress: TCP ${o.port} from ${o.publicFrom}/32 only, on the cluster's VPC security group` : 'Ingress: none added (reach the cluster from inside its VPC)',
    `Wait: until the cluster is available (at most ${o.waitSeconds} s)`,
    'Then: write the connection config that migrations and the ETL read',
  ];
}

/** The lines teardown would carry out; needs no credentials. */
export function teardownPlan(o: Pick<ProvisionOptions, 'identifier' | 'roleName' | 'region'>, finalSnapshot?: string): string[] {
  return [
    `Region: ${o.region}`,
    `Delete Redshift cluster ${o.identifier} (${finalSnapshot ? `final snapshot ${finalSnapshot}` : 'no final snapshot'}) and wait until it is gone`,
    'Revoke the ingress rule provisioning added, if any',
    `Delete IAM role ${o.roleName} and its policy, if provisioning created it`,
    'Remove the local connection config and state files',
  ];
}

async function describeCluster(redshift: RedshiftClient, identifier: string): Promise<Cluster | undefined> {
  try {
    return (await redshift.send(new DescribeClustersCommand({ ClusterIdentifier: identifier }))).Clusters?.[0];
  } catch (error) {
    if ((error as { name?: string }).name === 'ClusterNotFoundFault') return undefined;
    throw error;
  }
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

/** The SDK waiter's timing: polls every 30–60 s, faster for short limits (its minDelay must stay below maxWaitTime). */
function waiterConfig(client: RedshiftClient, seconds: number) {
  const minDelay = Math.max(1, Math.min(30, Math.floor(seconds / 2)));
  return { client, maxWaitTime: seconds, minDelay, maxDelay: Math.max(minDelay, Math.min(60, seconds)) };
}

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
 * Creates (or adopts) the role, the cluster and the ingress rule, waits for the cluster, and writes
 * the connection config. Safe to run again: what exists is adopted and what is missing is made.
 */
export async function provision(aws: AwsClients, o: ProvisionOptions, home: string, log: (line: string) => void): Promise<Cluster> {
  const files = paths(home);
  const existingState: Partial<State> = existsSync(files.state) ? JSON.parse(await fs.readFile(files.state, 'utf8')) : {};
  const state: State = { identifier: o.identifier, region: o.region, roleName: o.roleName, roleCreated: existingState.roleCreated ?? false, ingress: existingState.ingress };
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
  let roleArn = await step('Looking up the IAM role', async () => {
    try {
      return (await aws.iam.send(new GetRoleCommand({ RoleName: o.roleName }))).Role?.Arn;
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchEntityException' || (error as { name?: string }).name === 'NoSuchEntity') return undefined;
      throw error;
    }
  });
  if (roleArn) {
    log(`IAM role ${o.roleName} exists: adopted.`);
  } else {
    roleArn = await step(`Creating IAM role ${o.roleName}`, async () => {
      const created = await aws.iam.send(
        new CreateRoleCommand({ RoleName: o.roleName, AssumeRolePolicyDocument: trustPolicy, Description: 'Lets Redshift COPY read Sparkify data from S3' }),
      );
      return created.Role!.Arn!;
    });
    state.roleCreated = true;
    log(`IAM role ${o.roleName} created.`);
  }
  done.push(`IAM role ${o.roleName}`);
  await step('Granting the role S3 read access', async () => {
    if (o.managedS3ReadOnly) await aws.iam.send(new AttachRolePolicyCommand({ RoleName: o.roleName, PolicyArn: MANAGED_S3_READ_ONLY }));
    else await aws.iam.send(new PutRolePolicyCommand({ RoleName: o.roleName, PolicyName: INLINE_POLICY, PolicyDocument: s3ReadPolicy(o.s3!) }));
  });

  // 2. The cluster.
  let password: string | undefined;
  let cluster = await step('Looking up the cluster', () => describeCluster(aws.redshift, o.identifier));
  if (cluster) {
    log(`Cluster ${o.identifier} exists (${cluster.ClusterStatus}): adopted.`);
    if (!cluster.IamRoles?.some((r) => r.IamRoleArn === roleArn)) {
      await step('Attaching the role to the cluster', () =>
        aws.redshift.send(new ModifyClusterIamRolesCommand({ ClusterIdentifier: o.identifier, AddIamRoles: [roleArn!] })),
      );
    }
  } else {
    password = o.managedPassword ? undefined : generatePassword();
    cluster = await step(`Creating cluster ${o.identifier}`, async () =>
      (
        await aws.redshift.send(
          new CreateClusterCommand({
            ClusterIdentifier: o.identifier,
            NodeType: o.nodeType,
            ClusterType: o.nodes > 1 ? 'multi-node' : 'single-node',
            ...(o.nodes > 1 ? { NumberOfNodes: o.nodes } : {}),
            DBName: o.database,
            MasterUsername: o.user,
            ...(password ? { MasterUserPassword: password } : { ManageMasterPassword: true }),
            IamRoles: [roleArn!],
            Encrypted: true,
            PubliclyAccessible: Boolean(o.publicFrom),
            Port: o.port,
          }),
        )
      ).Cluster!,
    );
    log(`Cluster ${o.identifier} is being created.`);
    // The password exists only now: keep it before anything else can fail.
    await writePrivate(files.config, connectionConfig(o, cluster, roleArn, password));
  }
  done.push(`cluster ${o.identifier}`);

  // 3. The port, opened to one address only.
  if (o.publicFrom) {
    const groupId = cluster.VpcSecurityGroups?.[0]?.VpcSecurityGroupId;
    if (!groupId) throw new ProvisionError(`Cluster ${o.identifier} has no VPC security group to open: open port ${o.port} yourself. What exists now: ${done.join('; ')}.`);
    const cidr = `${o.publicFrom}/32`;
    await step(`Opening port ${o.port} to ${cidr}`, async () => {
      try {
        await aws.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: o.port, ToPort: o.port, IpRanges: [{ CidrIp: cidr, Description: 'sparkify-dwh' }] }] }),
        );
      } catch (error) {
        if ((error as { name?: string }).name !== 'InvalidPermission.Duplicate') throw error;
      }
    });
    state.ingress = { groupId, cidr, port: o.port };
    done.push(`ingress ${cidr} → ${o.port}`);
  }
  await writePrivate(files.state, state);

  // 4. Wait, then write the config the ETL reads.
  log(`Waiting for cluster ${o.identifier} to be available (this takes minutes)…`);
  await step('Waiting for the cluster', () =>
    waitUntilClusterAvailable(waiterConfig(aws.redshift, o.waitSeconds), { ClusterIdentifier: o.identifier }),
  );
  cluster = (await step('Reading the cluster endpoint', () => describeCluster(aws.redshift, o.identifier)))!;
  const previous = existsSync(files.config) ? JSON.parse(await fs.readFile(files.config, 'utf8')) : {};
  await writePrivate(files.config, connectionConfig(o, cluster, roleArn, password ?? previous.REDSHIFT_PASSWORD));
  log(`Cluster ${o.identifier} is available at ${cluster.Endpoint?.Address}:${cluster.Endpoint?.Port}.`);
  log(`Connection config written to ${files.config} (mode 0600). Next: npm run migrate:latest && npm run etl -- --songs <dir> --logs <dir>`);
  return cluster;
}

/** The settings file the ETL reads (see src/config.ts). */
function connectionConfig(o: ProvisionOptions, cluster: Cluster, roleArn: string, password: string | undefined) {
  return {
    SPARKIFY_TARGET: 'redshift',
    REDSHIFT_HOST: cluster.Endpoint?.Address ?? `${o.identifier}.pending`,
    REDSHIFT_PORT: String(cluster.Endpoint?.Port ?? o.port),
    REDSHIFT_DATABASE: o.database,
    REDSHIFT_USER: o.user,
    ...(password ? { REDSHIFT_PASSWORD: password } : {}),
    REDSHIFT_IAM_ROLE: roleArn,
    AWS_REGION: o.region,
    ...(o.s3 ? { SPARKIFY_S3_STAGING: o.s3 } : {}),
  };
}

/** What exists: the role, the cluster (status and endpoint), the rule and the local files. */
export async function provisionStatus(aws: AwsClients, o: Pick<ProvisionOptions, 'identifier' | 'roleName'>, home: string): Promise<string[]> {
  const files = paths(home);
  const role = await aws.iam.send(new GetRoleCommand({ RoleName: o.roleName })).then(
    (r) => `IAM role ${o.roleName}: exists (${r.Role?.Arn})`,
    (error: { name?: string }) => (error.name?.startsWith('NoSuchEntity') ? `IAM role ${o.roleName}: absent` : `IAM role ${o.roleName}: unknown (${explainAwsError(error)})`),
  );
  const cluster = await describeCluster(aws.redshift, o.identifier).then(
    (c) => (c ? `Cluster ${o.identifier}: ${c.ClusterStatus}${c.Endpoint ? ` at ${c.Endpoint.Address}:${c.Endpoint.Port}` : ''}` : `Cluster ${o.identifier}: absent`),
    (error) => `Cluster ${o.identifier}: unknown (${explainAwsError(error)})`,
  );
  const state: Partial<State> = existsSync(files.state) ? JSON.parse(await fs.readFile(files.state, 'utf8')) : {};
  return [
    role,
    cluster,
    state.ingress ? `Ingress: ${state.ingress.cidr} → ${state.ingress.port} on ${state.ingress.groupId}` : 'Ingress: none added',
    `Config: ${existsSync(files.config) ? files.config : 'absent'}`,
  ];
}

/** Deletes the cluster, then the rule and role that provisioning created, and the local files. */
export async function teardown(
  aws: AwsClients,
  o: Pick<ProvisionOptions, 'identifier' | 'roleName' | 'waitSeconds'>,
  home: string,
  log: (line: string) => void,
  finalSnapshot?: string,
): Promise<void> {
  const files = paths(home);
  const state: Partial<State> = existsSync(files.state) ? JSON.parse(await fs.readFile(files.state, 'utf8')) : {};
  const step = async <T>(what: string, run: () => Promise<T>) => {
    try {
      return await run();
    } catch (error) {
      throw new ProvisionError(`${what} failed: ${explainAwsError(error)}. Run teardown again once it is fixed; --status shows what is left.`);
    }
  };
  if (await step('Looking up the cluster', () => describeCluster(aws.redshift, o.identifier))) {
    await step(`Deleting cluster ${o.identifier}`, () =>
      aws.redshift.send(
        new DeleteClusterCommand({
          ClusterIdentifier: o.identifier,
          ...(finalSnapshot ? { SkipFinalClusterSnapshot: false, FinalClusterSnapshotIdentifier: finalSnapshot } : { SkipFinalClusterSnapshot: true }),
        }),
      ),
    );
    log(`Deleting cluster ${o.identifier}; waiting until it is gone…`);
    await step('Waiting for the deletion', () =>
      waitUntilClusterDeleted(waiterConfig(aws.redshift, o.waitSeconds), { ClusterIdentifier: o.identifier }),
    );
  } else {
    log(`Cluster ${o.identifier} does not exist.`);
  }
  if (state.ingress) {
    const { groupId, cidr, port } = state.ingress;
    await step('Revoking the ingress rule', async () => {
      try {
        await aws.ec2.send(
          new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: cidr }] }] }),
        );
      } catch (error) {
        if (!/NotFound/.test((error as { name?: string }).name ?? '')) throw error;
      }
    });
    log(`Ingress ${cidr} → ${port} revoked.`);
  }
  if (state.roleCreated) {
    await step(`Deleting IAM role ${o.roleName}`, async () => {
      // Whichever policy provision gave it goes first; what is already gone is fine.
      const unlessMissing = async (request: () => Promise<unknown>) => {
        try {
          await request();
        } catch (error) {
          if (!(error as { name?: string }).name?.startsWith('NoSuchEntity')) throw error;
        }
      };
      await unlessMissing(() => aws.iam.send(new DeleteRolePolicyCommand({ RoleName: o.roleName, PolicyName: INLINE_POLICY })));
      await unlessMissing(() => aws.iam.send(new DetachRolePolicyCommand({ RoleName: o.roleName, PolicyArn: MANAGED_S3_READ_ONLY })));
      await unlessMissing(() => aws.iam.send(new DeleteRoleCommand({ RoleName: o.roleName })));
    });
    log(`IAM role ${o.roleName} deleted.`);
  } else {
    log(`IAM role ${o.roleName} was not created by provision: left alone.`);
  }
  await fs.rm(files.config, { force: true });
  await fs.rm(files.state, { force: true });
  log('Local connection config removed.');
}
