import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EC2Client, AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateClusterCommand, DescribeClustersCommand, ModifyClusterCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import {
  CreateNamespaceCommand,
  CreateWorkgroupCommand,
  GetNamespaceCommand,
  GetWorkgroupCommand,
  RedshiftServerlessClient,
  UpdateNamespaceCommand,
} from '@aws-sdk/client-redshift-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { parseProvisionOptions } from '../src/provision/options.js';
import { type OpenAdmin, provision, provisionPlan } from '../src/provision/provision.js';
import { recordingWarehouse } from '../src/db/recording.js';

// Provisioning for IAM login (the default): AWS mocked; the admin's one-time database setup runs
// against a recording connection standing in for the new endpoint.
const ROLE_ARN = 'arn:aws:iam::123456789012:role/sparkify-redshift-s3-read';
const notFound = (name: string) => Object.assign(new Error(name), { name });
const endpoint = { Address: 'sparkify-dwh.abc.us-west-2.redshift.amazonaws.com', Port: 5439 };
const available = { ClusterIdentifier: 'sparkify-dwh', ClusterStatus: 'available', Endpoint: endpoint, IamRoles: [{ IamRoleArn: ROLE_ARN }], VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-1' }] };

describe('provisioning for IAM login (AWS mocked)', () => {
  const redshift = mockClient(RedshiftClient);
  const iam = mockClient(IAMClient);
  const ec2 = mockClient(EC2Client);
  const serverless = mockClient(RedshiftServerlessClient);
  const aws = { redshift: redshift as unknown as RedshiftClient, iam: iam as unknown as IAMClient, ec2: ec2 as unknown as EC2Client, serverless: serverless as unknown as RedshiftServerlessClient };
  let home: string;
  let lines: string[];
  const opened: Array<{ address: string; database: string; user: string; password: string; statements: string[] }> = [];
  /** The admin's connection records what it was given and what it would run (groups are server-wide, so the emulation could not show a creation). */
  const openAdmin: OpenAdmin = (where, database, user, password) => {
    const wh = recordingWarehouse(loadConfig({ SPARKIFY_TARGET: 'redshift', REDSHIFT_HOST: 'plan', REDSHIFT_USER: 'u', REDSHIFT_PASSWORD: 'p' }, '/'));
    const statements: string[] = [];
    opened.push({ address: where.address, database, user, password, statements });
    return { ...wh, destroy: async () => void statements.push(...wh.statements.map((st) => st.sql)) };
  };
  const options = (extra: Record<string, unknown> = {}) => parseProvisionOptions({ region: 'us-west-2', s3: 's3://my-bucket/sparkify/', waitSeconds: 4, ...extra });
  const log = (l: string) => lines.push(l);
  const stateFile = () => fs.readFile(path.join(home, 'provisioned.json'), 'utf8').then(JSON.parse);

  beforeEach(async () => {
    for (const m of [redshift, iam, ec2, serverless]) m.reset();
    iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({});
    lines = [];
    opened.length = 0;
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-provision-iam-'));
  });
  afterEach(() => fs.rm(home, { recursive: true, force: true }));

  it('a cluster: the generated admin password prepares the database once, then goes to Secrets Manager; the config holds no password', async () => {
    redshift.on(DescribeClustersCommand).rejectsOnce(notFound('ClusterNotFoundFault')).resolves({ Clusters: [available] });
    redshift.on(CreateClusterCommand).resolves({ Cluster: { ...available, ClusterStatus: 'creating', Endpoint: undefined } });
    redshift.on(ModifyClusterCommand).resolves({});
    await provision(aws, options({ publicFrom: '203.0.113.7' }), home, log, openAdmin);

    const password = redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input.MasterUserPassword!;
    expect(password).toMatch(/^.{32}$/);
    // The setup logged in as the admin, with that password, at the new endpoint, and made the group.
    expect(opened).toMatchObject([{ address: endpoint.Address, database: 'sparkify', user: 'sparkify_admin', password }]);
    expect(opened[0]!.statements).toContain('create group "sparkify_reader"');
    expect(redshift.commandCalls(ModifyClusterCommand)[0]!.args[0].input).toEqual({ ClusterIdentifier: 'sparkify-dwh', ManageMasterPassword: true });

    const file = JSON.parse(await fs.readFile(path.join(home, 'redshift.json'), 'utf8'));
    expect(file).toMatchObject({ SPARKIFY_TARGET: 'redshift', REDSHIFT_AUTH: 'iam', REDSHIFT_CLUSTER: 'sparkify-dwh', REDSHIFT_DATABASE: 'sparkify' });
    expect(file).not.toHaveProperty('REDSHIFT_PASSWORD');
    expect(file).not.toHaveProperty('REDSHIFT_USER');
    expect(JSON.stringify(await stateFile())).not.toContain(password);
    expect(loadConfig({ SPARKIFY_HOME: home }).redshift).toMatchObject({ auth: 'iam', password: '', iam: { api: 'GetClusterCredentialsWithIAM', cluster: 'sparkify-dwh', database: 'sparkify', region: 'us-west-2' } });
    expect(lines.join('\n')).not.toContain(password);
    expect(lines).toContain('Database prepared for IAM logins: group sparkify_reader exists.');
  });

  it('a failure before the setup keeps the admin password (0600, state file only) for the next run, which finishes and forgets it', async () => {
    redshift.on(DescribeClustersCommand).rejectsOnce(notFound('ClusterNotFoundFault')).resolves({ Clusters: [{ ...available, ClusterStatus: 'creating' }] });
    redshift.on(CreateClusterCommand).resolves({ Cluster: { ...available, ClusterStatus: 'creating' } });
    await expect(provision(aws, options({ publicFrom: '203.0.113.7', waitSeconds: 2 }), home, log, openAdmin)).rejects.toThrow(/Waiting for the cluster failed/);
    const password = redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input.MasterUserPassword!;
    expect((await stateFile()).adminPassword).toBe(password);
    expect((await fs.stat(path.join(home, 'provisioned.json'))).mode & 0o777).toBe(0o600);
    await expect(fs.stat(path.join(home, 'redshift.json'))).rejects.toThrow();

    redshift.reset();
    redshift.on(DescribeClustersCommand).resolves({ Clusters: [available] });
    redshift.on(ModifyClusterCommand).resolves({});
    await provision(aws, options({ publicFrom: '203.0.113.7' }), home, log, openAdmin);
    expect(opened.map((o) => o.password)).toEqual([password]);
    expect(redshift.commandCalls(ModifyClusterCommand)).toHaveLength(1);
    expect((await stateFile()).adminPassword).toBeUndefined();
  }, 20_000);

  it('a warehouse provisioned for password login: a rerun with IAM prepares the database with the stored password and hands it over, instead of dropping it', async () => {
    await fs.writeFile(path.join(home, 'redshift.json'), JSON.stringify({ SPARKIFY_TARGET: 'redshift', REDSHIFT_USER: 'sparkify_admin', REDSHIFT_PASSWORD: 'Old-Admin-Pw-1' }));
    redshift.on(DescribeClustersCommand).resolves({ Clusters: [available] });
    redshift.on(ModifyClusterCommand).resolves({});
    await provision(aws, options({ publicFrom: '203.0.113.7' }), home, log, openAdmin);
    expect(opened.map((o) => o.password)).toEqual(['Old-Admin-Pw-1']);
    expect(redshift.commandCalls(ModifyClusterCommand)[0]!.args[0].input).toEqual({ ClusterIdentifier: 'sparkify-dwh', ManageMasterPassword: true });
    const file = await fs.readFile(path.join(home, 'redshift.json'), 'utf8');
    expect(file).not.toContain('Old-Admin-Pw-1');
    expect(JSON.stringify(await stateFile())).not.toContain('Old-Admin-Pw-1');
  });

  it('Serverless, not reachable from here: prints the statement for the admin, still hands the password over; the config names the workgroup', async () => {
    const workgroup = { workgroupName: 'sparkify-dwh', namespaceName: 'sparkify-dwh', endpoint: { address: 'sparkify-dwh.123456789012.us-west-2.redshift-serverless.amazonaws.com', port: 5439 } };
    const namespace = { namespaceName: 'sparkify-dwh', iamRoles: [ROLE_ARN], status: 'AVAILABLE' as const };
    serverless.on(GetWorkgroupCommand).rejectsOnce(notFound('ResourceNotFoundException')).resolves({ workgroup: { ...workgroup, status: 'AVAILABLE' } });
    serverless.on(GetNamespaceCommand).rejectsOnce(notFound('ResourceNotFoundException')).resolves({ namespace });
    serverless.on(CreateNamespaceCommand).resolves({ namespace });
    serverless.on(CreateWorkgroupCommand).resolves({ workgroup: { ...workgroup, status: 'CREATING' } });
    serverless.on(UpdateNamespaceCommand).resolves({});
    await provision(aws, options({ serverless: true }), home, log, openAdmin);
    expect(opened).toHaveLength(0);
    expect(lines.join('\n')).toContain('run "create group sparkify_reader;" once as the admin from inside its VPC');
    expect(serverless.commandCalls(UpdateNamespaceCommand)[0]!.args[0].input).toEqual({ namespaceName: 'sparkify-dwh', manageAdminPassword: true });
    expect(loadConfig({ SPARKIFY_HOME: home }).redshift?.iam).toMatchObject({ api: 'GetCredentials', workgroup: 'sparkify-dwh' });
  });

  it('--managed-password: Redshift keeps it from the start, and the setup statement is printed; --auth password keeps the old behaviour', async () => {
    redshift.on(DescribeClustersCommand).rejectsOnce(notFound('ClusterNotFoundFault')).resolves({ Clusters: [available] });
    redshift.on(CreateClusterCommand).resolves({ Cluster: { ...available, ClusterStatus: 'creating' } });
    await provision(aws, options({ managedPassword: true, publicFrom: '203.0.113.7' }), home, log, openAdmin);
    expect(redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input).toMatchObject({ ManageMasterPassword: true });
    expect(redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input.MasterUserPassword).toBeUndefined();
    expect(opened).toHaveLength(0);
    expect(lines.join('\n')).toContain('run "create group sparkify_reader;" once as the admin');

    const plan = provisionPlan(options({ auth: 'password' })).join('\n');
    expect(plan).toContain('Database login: the admin user with its password (REDSHIFT_AUTH=password)');
    const iamPlan = provisionPlan(options({ serverless: true })).join('\n');
    expect(iamPlan).toContain('redshift-serverless:GetCredentials mints 1-hour logins');
    expect(iamPlan).toContain('"create group sparkify_reader;"');
    expect(provisionPlan(options()).join('\n')).toContain('redshift:GetClusterCredentialsWithIAM');
  });
});
