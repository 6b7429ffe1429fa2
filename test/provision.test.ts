import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AuthorizeSecurityGroupIngressCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { CreateRoleCommand, DeleteRoleCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateClusterCommand, DeleteClusterCommand, DescribeClustersCommand, ModifyClusterIamRolesCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import {
  CreateNamespaceCommand,
  CreateWorkgroupCommand,
  DeleteNamespaceCommand,
  DeleteWorkgroupCommand,
  GetNamespaceCommand,
  GetWorkgroupCommand,
  RedshiftServerlessClient,
} from '@aws-sdk/client-redshift-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { parseProvisionOptions } from '../src/provision/options.js';
import { generatePassword, provision, provisionPlan, provisionStatus, ProvisionError, readablePrefixes, s3ReadPolicy, teardown, trustPolicy } from '../src/provision/provision.js';
import { sparkify } from './helpers/cli.js';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/sparkify-redshift-s3-read';
const notFound = (name: string) => Object.assign(new Error(name), { name });
const available = { ClusterIdentifier: 'sparkify-dwh', ClusterStatus: 'available', Endpoint: { Address: 'sparkify-dwh.abc.us-west-2.redshift.amazonaws.com', Port: 5439 }, IamRoles: [{ IamRoleArn: ROLE_ARN }], VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-123' }] };

describe('provisioning (AWS mocked)', () => {
  const redshift = mockClient(RedshiftClient);
  const iam = mockClient(IAMClient);
  const ec2 = mockClient(EC2Client);
  const serverless = mockClient(RedshiftServerlessClient);
  const aws = {
    redshift: redshift as unknown as RedshiftClient,
    iam: iam as unknown as IAMClient,
    ec2: ec2 as unknown as EC2Client,
    serverless: serverless as unknown as RedshiftServerlessClient,
  };
  let home: string;
  let lines: string[];
  const log = (l: string) => lines.push(l);
  const options = (extra: Record<string, unknown> = {}) => parseProvisionOptions({ region: 'us-west-2', s3: 's3://my-bucket/sparkify/', waitSeconds: 4, ...extra });

  beforeEach(async () => {
    redshift.reset();
    iam.reset();
    ec2.reset();
    serverless.reset();
    lines = [];
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-provision-'));
  });
  afterEach(() => fs.rm(home, { recursive: true, force: true }));

  it('creates everything from nothing, waits, and writes a 0600 config the ETL reads; the password is never printed', async () => {
    iam.on(GetRoleCommand).rejects(notFound('NoSuchEntityException'));
    iam.on(CreateRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    redshift.on(DescribeClustersCommand).rejectsOnce(notFound('ClusterNotFoundFault')).resolves({ Clusters: [available] });
    redshift.on(CreateClusterCommand).resolves({ Cluster: { ...available, ClusterStatus: 'creating', Endpoint: undefined } });
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({});

    await provision(aws, options({ publicFrom: '203.0.113.7', auth: 'password' }), home, log);

    const create = redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ ClusterIdentifier: 'sparkify-dwh', Encrypted: true, PubliclyAccessible: true, IamRoles: [ROLE_ARN], ClusterType: 'multi-node', NumberOfNodes: 2 });
    const password = create.MasterUserPassword!;
    expect(password).toMatch(/^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)[^'"\\/@ ]{32}$/);
    const trust = JSON.parse(iam.commandCalls(CreateRoleCommand)[0]!.args[0].input.AssumeRolePolicyDocument!);
    expect(trust.Statement[0].Principal).toEqual({ Service: 'redshift.amazonaws.com' });
    const policy = JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!);
    expect(policy.Statement.find((s: { Action: string[] }) => s.Action.includes('s3:GetObject')).Resource).toEqual(['arn:aws:s3:::my-bucket/sparkify/*']);
    const ingress = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input;
    expect(ingress.IpPermissions![0]!.IpRanges).toEqual([{ CidrIp: '203.0.113.7/32', Description: 'sparkify-dwh' }]);

    const file = path.join(home, 'redshift.json');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    const config = loadConfig({ SPARKIFY_HOME: home });
    expect(config.redshift).toMatchObject({ host: available.Endpoint.Address, port: 5439, database: 'sparkify', user: 'sparkify_admin', password, iamRole: ROLE_ARN, region: 'us-west-2' });
    expect(lines.join('\n')).not.toContain(password);
    expect(lines.at(-1)).toMatch(/Next: npm run migrate:latest/);
  });

  it('adopts what exists and finishes what is missing', async () => {
    iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    redshift.on(DescribeClustersCommand).resolves({ Clusters: [{ ...available, IamRoles: [] }] });
    redshift.on(ModifyClusterIamRolesCommand).resolves({});
    await provision(aws, options(), home, log);
    expect(iam.commandCalls(CreateRoleCommand)).toHaveLength(0);
    expect(redshift.commandCalls(CreateClusterCommand)).toHaveLength(0);
    expect(redshift.commandCalls(ModifyClusterIamRolesCommand)[0]!.args[0].input.AddIamRoles).toEqual([ROLE_ARN]);
    expect(lines.slice(0, 2)).toEqual(['IAM role sparkify-redshift-s3-read exists: adopted.', 'Cluster sparkify-dwh exists (available): adopted.']);
    expect(await provisionStatus(aws, options(), home)).toEqual([
      `IAM role sparkify-redshift-s3-read: exists (${ROLE_ARN})`,
      `Cluster sparkify-dwh: available at ${available.Endpoint.Address}:5439`,
      'Ingress: none added',
      `Config: ${path.join(home, 'redshift.json')}`,
    ]);
  });

  it('says so when the waiter times out, and what exists', async () => {
    iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    redshift.on(DescribeClustersCommand).rejectsOnce(notFound('ClusterNotFoundFault')).resolves({ Clusters: [{ ...available, ClusterStatus: 'creating' }] });
    redshift.on(CreateClusterCommand).resolves({ Cluster: { ...available, ClusterStatus: 'creating' } });
    const error = await provision(aws, options({ waitSeconds: 2, auth: 'password' }), home, log).catch((e) => e);
    expect(error).toBeInstanceOf(ProvisionError);
    expect(error.message).toMatch(/Waiting for the cluster failed: timed out waiting.*What exists now: IAM role sparkify-redshift-s3-read; cluster sparkify-dwh/);
    // The password was saved before the wait: the next run adopts the cluster and keeps it.
    expect(loadConfig({ SPARKIFY_HOME: home }).redshift?.password).toBe(redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input.MasterUserPassword);
  }, 20_000);

  it('fails half-way with a clear message naming what exists, and no password in it', async () => {
    iam.on(GetRoleCommand).rejects(notFound('NoSuchEntityException'));
    iam.on(CreateRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    redshift.on(DescribeClustersCommand).rejects(notFound('ClusterNotFoundFault'));
    redshift.on(CreateClusterCommand).rejects(Object.assign(new Error('You have reached the cluster quota'), { name: 'ClusterQuotaExceededFault' }));
    const error = await provision(aws, options(), home, log).catch((e) => e);
    expect(error.message).toBe(
      'Creating cluster sparkify-dwh failed: an AWS quota is reached (ClusterQuotaExceededFault): free capacity or ask AWS for more. What exists now: IAM role sparkify-redshift-s3-read. Run provision again to finish, or teardown to remove it.',
    );
    const state = JSON.parse(await fs.readFile(path.join(home, 'provisioned.json'), 'utf8'));
    expect(state.roleCreated).toBe(true);
  });

  it('explains access denied', async () => {
    iam.on(GetRoleCommand).rejects(Object.assign(new Error('not authorized to perform iam:GetRole'), { name: 'AccessDenied' }));
    await expect(provision(aws, options(), home, log)).rejects.toThrow(/Looking up the IAM role failed: access denied \(not authorized to perform iam:GetRole\)/);
  });

  it('tears down the cluster, the rule and the role it created, and the local config', async () => {
    await fs.writeFile(path.join(home, 'redshift.json'), '{}');
    await fs.writeFile(path.join(home, 'provisioned.json'), JSON.stringify({ roleCreated: true, ingress: { groupId: 'sg-123', cidr: '203.0.113.7/32', port: 5439 } }));
    redshift.on(DescribeClustersCommand).resolvesOnce({ Clusters: [available] }).rejects(notFound('ClusterNotFoundFault'));
    redshift.on(DeleteClusterCommand).resolves({});
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({});
    iam.on(DeleteRoleCommand).resolves({});
    await teardown(aws, options(), home, log);
    expect(redshift.commandCalls(DeleteClusterCommand)[0]!.args[0].input).toEqual({ ClusterIdentifier: 'sparkify-dwh', SkipFinalClusterSnapshot: true });
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(iam.commandCalls(DeleteRoleCommand)).toHaveLength(1);
    await expect(fs.stat(path.join(home, 'redshift.json'))).rejects.toThrow();
  });

  describe('--serverless', () => {
    const workgroup = { workgroupName: 'sparkify-dwh', namespaceName: 'sparkify-dwh', securityGroupIds: ['sg-456'], endpoint: { address: 'sparkify-dwh.123456789012.us-west-2.redshift-serverless.amazonaws.com', port: 5439 } };
    const namespace = { namespaceName: 'sparkify-dwh', iamRoles: [ROLE_ARN], status: 'AVAILABLE' as const };

    it('creates a namespace and a workgroup, waits for both, and writes the config; the password is never printed', async () => {
      iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
      iam.on(PutRolePolicyCommand).resolves({});
      serverless
        .on(GetWorkgroupCommand)
        .rejectsOnce(notFound('ResourceNotFoundException'))
        .resolvesOnce({ workgroup: { ...workgroup, status: 'CREATING' } })
        .resolves({ workgroup: { ...workgroup, status: 'AVAILABLE' } });
      serverless.on(GetNamespaceCommand).rejectsOnce(notFound('ResourceNotFoundException')).resolves({ namespace });
      serverless.on(CreateNamespaceCommand).resolves({ namespace: { ...namespace, status: 'MODIFYING' } });
      serverless.on(CreateWorkgroupCommand).resolves({ workgroup: { ...workgroup, status: 'CREATING', endpoint: undefined } });
      ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({});

      await provision(aws, options({ serverless: true, baseCapacity: 32, publicFrom: '203.0.113.7', auth: 'password' }), home, log);

      const ns = serverless.commandCalls(CreateNamespaceCommand)[0]!.args[0].input;
      expect(ns).toMatchObject({ namespaceName: 'sparkify-dwh', dbName: 'sparkify', adminUsername: 'sparkify_admin', iamRoles: [ROLE_ARN], defaultIamRoleArn: ROLE_ARN });
      const password = ns.adminUserPassword!;
      expect(password).toMatch(/^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)[^'"\\/@ ]{32}$/);
      expect(serverless.commandCalls(CreateWorkgroupCommand)[0]!.args[0].input).toEqual({
        workgroupName: 'sparkify-dwh',
        namespaceName: 'sparkify-dwh',
        baseCapacity: 32,
        publiclyAccessible: true,
        port: 5439,
      });
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input.GroupId).toBe('sg-456');
      expect(serverless.commandCalls(GetWorkgroupCommand).length).toBeGreaterThanOrEqual(3); // polled until AVAILABLE
      expect(redshift.commandCalls(CreateClusterCommand)).toHaveLength(0);
      expect(loadConfig({ SPARKIFY_HOME: home }).redshift).toMatchObject({ host: workgroup.endpoint.address, port: 5439, password, iamRole: ROLE_ARN });
      expect((await fs.stat(path.join(home, 'redshift.json'))).mode & 0o777).toBe(0o600);
      expect(lines.join('\n')).not.toContain(password);
      expect(lines).toContain(`Workgroup sparkify-dwh is available at ${workgroup.endpoint.address}:5439.`);
    }, 20_000);

    it('tears down the workgroup and then its namespace, even a namespace left without one', async () => {
      serverless.on(GetWorkgroupCommand).resolvesOnce({ workgroup: { ...workgroup, status: 'AVAILABLE' } }).rejects(notFound('ResourceNotFoundException'));
      serverless.on(GetNamespaceCommand).resolvesOnce({ namespace }).rejects(notFound('ResourceNotFoundException'));
      serverless.on(DeleteWorkgroupCommand).resolves({});
      serverless.on(DeleteNamespaceCommand).resolves({});
      await teardown(aws, options({ serverless: true }), home, log, 'last-one');
      expect(serverless.commandCalls(DeleteWorkgroupCommand)[0]!.args[0].input).toEqual({ workgroupName: 'sparkify-dwh' });
      expect(serverless.commandCalls(DeleteNamespaceCommand)[0]!.args[0].input).toEqual({ namespaceName: 'sparkify-dwh', finalSnapshotName: 'last-one' });

      serverless.reset();
      serverless.on(GetWorkgroupCommand).rejects(notFound('ResourceNotFoundException'));
      serverless.on(GetNamespaceCommand).resolvesOnce({ namespace }).rejects(notFound('ResourceNotFoundException'));
      serverless.on(DeleteNamespaceCommand).resolves({});
      await teardown(aws, options({ serverless: true }), home, log);
      expect(serverless.commandCalls(DeleteWorkgroupCommand)).toHaveLength(0);
      expect(serverless.commandCalls(DeleteNamespaceCommand)[0]!.args[0].input).toEqual({ namespaceName: 'sparkify-dwh' });
    }, 20_000);

    it('refuses a base capacity Redshift Serverless does not offer', () => {
      expect(() => options({ serverless: true, baseCapacity: 12 })).toThrow(/--base-capacity/);
    });
  });

  it('generates passwords Redshift accepts', () => {
    for (let i = 0; i < 200; i++) expect(generatePassword()).toMatch(/^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)[!-~]{32}$/);
    expect(new Set(Array.from({ length: 50 }, () => generatePassword())).size).toBe(50);
  });

  it.each([
    ['provision', ['--region', 'us-west-2', '--s3', 's3://my-bucket/sparkify/', '--public-from', '203.0.113.7'], /Ingress: TCP 5439 from 203.0.113.7\/32 only/],
    [
      'provision',
      ['--region', 'us-west-2', '--s3', 's3://my-bucket/sparkify/', '--source', 's3://udacity-dend/log_data', '--source', 's3://udacity-dend/song_data/'],
      /on s3:\/\/my-bucket\/sparkify\/, s3:\/\/udacity-dend\/log_data\/, s3:\/\/udacity-dend\/song_data\/;/,
    ],
    ['teardown', ['--region', 'us-west-2'], /Delete Redshift cluster sparkify-dwh \(no final snapshot\)/],
    ['provision', ['--region', 'us-west-2', '--managed-s3-read-only', '--serverless', '--base-capacity', '16'], /Redshift Serverless namespace sparkify-dwh .* workgroup sparkify-dwh \(16 RPUs base capacity/],
    ['teardown', ['--region', 'us-west-2', '--serverless'], /Delete Redshift Serverless workgroup sparkify-dwh, then namespace sparkify-dwh/],
  ])('%s --dry-run prints its plan without AWS credentials', async (command, args, line) => {
    const result = await sparkify([command, '--dry-run', ...args], {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: 'none-such',
      SPARKIFY_HOME: home,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(line);
  });

  it('refuses bad options by name, and teardown without --yes', async () => {
    expect(() => parseProvisionOptions({ region: 'us-west-2', s3: 's3://b/x', publicFrom: '0.0.0.0/0' })).toThrow(/--public-from: must be one IPv4 address/);
    expect(() => parseProvisionOptions({ region: 'mars' })).toThrow(/--region: must be a region/);
    const result = await sparkify(['teardown', '--region', 'us-west-2'], { SPARKIFY_HOME: home });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/run again with --yes to confirm/);
  });
});

describe('the role COPY assumes', () => {
  const STAGING = 's3://my-staging/sparkify';
  const policyFor = (sources: string[]) => JSON.parse(s3ReadPolicy(readablePrefixes({ s3: STAGING, sources })));

  it('is trusted by Redshift, and for Serverless by Redshift Serverless too', () => {
    expect(JSON.parse(trustPolicy(false)).Statement[0].Principal).toEqual({ Service: 'redshift.amazonaws.com' });
    expect(JSON.parse(trustPolicy(true)).Statement[0].Principal).toEqual({ Service: ['redshift.amazonaws.com', 'redshift-serverless.amazonaws.com'] });
  });

  it('may read the staging prefix and each --source, every prefix ending with "/", and list only under them', () => {
    const policy = policyFor(['s3://udacity-dend/log_data', 's3://udacity-dend/song_data/']);
    const get = policy.Statement.filter((s: { Action: string[] }) => s.Action.includes('s3:GetObject')).flatMap((s: { Resource: string[] }) => s.Resource);
    expect(get.sort()).toEqual(['arn:aws:s3:::my-staging/sparkify/*', 'arn:aws:s3:::udacity-dend/log_data/*', 'arn:aws:s3:::udacity-dend/song_data/*']);
    const list = policy.Statement.filter((s: { Action: string[] }) => s.Action.includes('s3:ListBucket'));
    expect(list).toEqual([
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::my-staging'], Condition: { StringLike: { 's3:prefix': ['sparkify/*'] } } },
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::udacity-dend'], Condition: { StringLike: { 's3:prefix': ['log_data/*', 'song_data/*'] } } },
    ]);
    // s3://udacity-dend/log_data grants nothing under a key that merely starts the same way.
    expect(JSON.stringify(policy)).not.toMatch(/log_data\*/);
  });

  it('the dry run lists what it grants, and names Redshift Serverless for --serverless', () => {
    const plan = provisionPlan(parseProvisionOptions({ region: 'us-west-2', s3: STAGING, sources: ['s3://udacity-dend/log_data'], serverless: true })).join('\n');
    expect(plan).toMatch(/trusted by redshift\.amazonaws\.com and redshift-serverless\.amazonaws\.com/);
    expect(plan).toMatch(/on s3:\/\/my-staging\/sparkify\/, s3:\/\/udacity-dend\/log_data\//);
  });
});
