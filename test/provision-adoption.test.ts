// Provisioning options and adoption, through the command's own option handling (runProvision /
// runTeardown with mocked AWS clients): what provisioning adopted stays at teardown, and the
// --managed-password, --final-snapshot and --managed-s3-read-only flags reach AWS as documented.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AuthorizeSecurityGroupIngressCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateClusterCommand, DeleteClusterCommand, DescribeClustersCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { CreateNamespaceCommand, CreateWorkgroupCommand, GetNamespaceCommand, GetWorkgroupCommand, RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runProvision, runTeardown } from '../src/provision/main.js';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/sparkify-redshift-s3-read';
const S3_READ_ONLY = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const awsError = (name: string) => Object.assign(new Error(name), { name });
const cluster = {
  ClusterIdentifier: 'sparkify-dwh',
  ClusterStatus: 'available',
  Endpoint: { Address: 'sparkify-dwh.abc.us-west-2.redshift.amazonaws.com', Port: 5439 },
  IamRoles: [{ IamRoleArn: ROLE_ARN }],
  VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-123' }],
};

describe('provisioning: adoption and options (AWS mocked)', () => {
  const redshift = mockClient(RedshiftClient);
  const iam = mockClient(IAMClient);
  const ec2 = mockClient(EC2Client);
  const serverless = mockClient(RedshiftServerlessClient);
  const aws = async () => ({
    redshift: redshift as unknown as RedshiftClient,
    iam: iam as unknown as IAMClient,
    ec2: ec2 as unknown as EC2Client,
    serverless: serverless as unknown as RedshiftServerlessClient,
  });
  let home: string;
  const base = { region: 'us-west-2', 'wait-seconds': 4 };
  // Password login: these flags' behaviour there (IAM login, the default, is test/provision-iam.test.ts).
  const provision = (args: Record<string, unknown>) => runProvision({ ...base, s3: 's3://my-bucket/sparkify/', auth: 'password', ...args }, aws);
  const teardown = (args: Record<string, unknown> = {}) => runTeardown({ ...base, yes: true, ...args }, aws);

  beforeEach(async () => {
    for (const m of [redshift, iam, ec2, serverless]) m.reset();
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkify-provision-'));
    vi.stubEnv('SPARKIFY_HOME', home);
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await fs.rm(home, { recursive: true, force: true });
  });

  /** A cluster that does not exist yet, is created and becomes available; deleting it makes it gone. */
  function newCluster() {
    redshift.on(DescribeClustersCommand).rejectsOnce(awsError('ClusterNotFoundFault')).resolves({ Clusters: [cluster] });
    redshift.on(CreateClusterCommand).resolves({ Cluster: { ...cluster, ClusterStatus: 'creating', Endpoint: undefined } });
  }
  function clusterGoesAway() {
    redshift.reset();
    redshift.on(DescribeClustersCommand).resolvesOnce({ Clusters: [cluster] }).rejects(awsError('ClusterNotFoundFault'));
    redshift.on(DeleteClusterCommand).resolves({});
  }
  const config = async () => JSON.parse(await fs.readFile(path.join(home, 'redshift.json'), 'utf8'));

  it('teardown leaves the IAM role and the ingress rule that provisioning found already there', async () => {
    iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    newCluster();
    // The address was already allowed in the cluster's security group: AWS says the rule is a duplicate.
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidPermission.Duplicate'));
    await provision({ 'public-from': '203.0.113.7' });
    expect(iam.commandCalls(CreateRoleCommand)).toHaveLength(0);
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);

    clusterGoesAway();
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({});
    iam.on(DeleteRoleCommand).resolves({});
    await teardown();
    expect(redshift.commandCalls(DeleteClusterCommand)).toHaveLength(1);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand)).toHaveLength(0);
    expect(iam.calls().map((c) => c.args[0].constructor.name).filter((n) => /^(Delete|Detach)/.test(n))).toEqual([]);
    await expect(fs.stat(path.join(home, 'redshift.json'))).rejects.toThrow();
  });

  it('teardown removes the role and rule provisioning created, even when a second provision found them there', async () => {
    iam.on(GetRoleCommand).rejectsOnce(awsError('NoSuchEntityException')).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(CreateRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    newCluster();
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolvesOnce({}).rejects(awsError('InvalidPermission.Duplicate'));
    await provision({ 'public-from': '203.0.113.7' });
    await provision({ 'public-from': '203.0.113.7' }); // adopts its own role, cluster and rule

    clusterGoesAway();
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({});
    iam.on(DeleteRolePolicyCommand).resolves({});
    iam.on(DetachRolePolicyCommand).rejects(awsError('NoSuchEntityException'));
    iam.on(DeleteRoleCommand).resolves({});
    await teardown();
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input)).toEqual([
      { GroupId: 'sg-123', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5439, ToPort: 5439, IpRanges: [{ CidrIp: '203.0.113.7/32' }] }] },
    ]);
    expect(iam.commandCalls(DeleteRoleCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: 'sparkify-redshift-s3-read' }]);
  });

  it('--managed-password asks Redshift to manage the admin password, and no password is kept locally', async () => {
    iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    newCluster();
    await provision({ 'managed-password': true });
    const input = redshift.commandCalls(CreateClusterCommand)[0]!.args[0].input;
    expect(input.ManageMasterPassword).toBe(true);
    expect(input).not.toHaveProperty('MasterUserPassword');
    const written = await config();
    expect(written).toMatchObject({ REDSHIFT_HOST: cluster.Endpoint.Address, REDSHIFT_USER: 'sparkify_admin', REDSHIFT_IAM_ROLE: ROLE_ARN });
    expect(written).not.toHaveProperty('REDSHIFT_PASSWORD');
  });

  it('--managed-password on Serverless asks for a managed admin password on the namespace', async () => {
    iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    const workgroup = { workgroupName: 'sparkify-dwh', namespaceName: 'sparkify-dwh', status: 'AVAILABLE' as const, endpoint: { address: 'wg.example', port: 5439 } };
    serverless.on(GetWorkgroupCommand).rejectsOnce(awsError('ResourceNotFoundException')).resolves({ workgroup });
    serverless.on(GetNamespaceCommand).rejectsOnce(awsError('ResourceNotFoundException')).resolves({ namespace: { namespaceName: 'sparkify-dwh', iamRoles: [ROLE_ARN], status: 'AVAILABLE' } });
    serverless.on(CreateNamespaceCommand).resolves({ namespace: { namespaceName: 'sparkify-dwh' } });
    serverless.on(CreateWorkgroupCommand).resolves({ workgroup: { ...workgroup, status: 'CREATING' } });
    await provision({ 'managed-password': true, serverless: true });
    const input = serverless.commandCalls(CreateNamespaceCommand)[0]!.args[0].input;
    expect(input.manageAdminPassword).toBe(true);
    expect(input).not.toHaveProperty('adminUserPassword');
    expect(await config()).not.toHaveProperty('REDSHIFT_PASSWORD');
  }, 20_000);

  it('--final-snapshot keeps a final snapshot under that identifier', async () => {
    clusterGoesAway();
    await teardown({ 'final-snapshot': 'sparkify-last' });
    expect(redshift.commandCalls(DeleteClusterCommand).map((c) => c.args[0].input)).toEqual([
      { ClusterIdentifier: 'sparkify-dwh', SkipFinalClusterSnapshot: false, FinalClusterSnapshotIdentifier: 'sparkify-last' },
    ]);
  });

  it('--managed-s3-read-only attaches AmazonS3ReadOnlyAccess instead of the inline policy, and teardown detaches it before deleting the role', async () => {
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntityException'));
    iam.on(CreateRoleCommand).resolves({ Role: { Arn: ROLE_ARN } as never });
    iam.on(AttachRolePolicyCommand).resolves({});
    newCluster();
    await runProvision({ ...base, 'managed-s3-read-only': true }, aws); // no --s3 needed
    expect(iam.commandCalls(AttachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: 'sparkify-redshift-s3-read', PolicyArn: S3_READ_ONLY }]);
    expect(iam.commandCalls(PutRolePolicyCommand)).toHaveLength(0);

    clusterGoesAway();
    iam.on(DeleteRolePolicyCommand).rejects(awsError('NoSuchEntityException'));
    iam.on(DetachRolePolicyCommand).resolves({});
    iam.on(DeleteRoleCommand).resolves({});
    await teardown();
    expect(iam.commandCalls(DetachRolePolicyCommand).map((c) => c.args[0].input)).toEqual([{ RoleName: 'sparkify-redshift-s3-read', PolicyArn: S3_READ_ONLY }]);
    const order = iam.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('DetachRolePolicyCommand')).toBeLessThan(order.indexOf('DeleteRoleCommand'));
  });
});
