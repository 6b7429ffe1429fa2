import {
  type Cluster,
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  ModifyClusterCommand,
  ModifyClusterIamRolesCommand,
  type RedshiftClient,
  waitUntilClusterAvailable,
  waitUntilClusterDeleted,
} from '@aws-sdk/client-redshift';
import {
  CreateNamespaceCommand,
  CreateWorkgroupCommand,
  DeleteNamespaceCommand,
  DeleteWorkgroupCommand,
  GetNamespaceCommand,
  GetWorkgroupCommand,
  type Namespace,
  type RedshiftServerlessClient,
  UpdateNamespaceCommand,
  type Workgroup,
} from '@aws-sdk/client-redshift-serverless';
import { checkExceptions, createWaiter, WaiterState } from '@smithy/core/client';
import type { ProvisionOptions } from './options.js';

/** What provisioning needs to know of the compute it runs on: a provisioned cluster or a Serverless workgroup. */
export interface ComputeState {
  status: string;
  endpoint?: { address: string; port: number };
  roles: string[];
  securityGroupId?: string;
}

/**
 * The Redshift compute provisioning creates, adopts, waits for and deletes. One provisioning flow
 * (src/provision/provision.ts) drives either kind.
 */
export interface Compute {
  /** 'cluster' or 'workgroup', for messages. */
  noun: string;
  name: string;
  /** The plan line, for --dry-run. */
  plan: string;
  describe(): Promise<ComputeState | undefined>;
  /** Creates what is missing; `password` undefined means Redshift keeps it in Secrets Manager. */
  create(roleArn: string, password: string | undefined): Promise<ComputeState>;
  attachRole(roleArn: string): Promise<void>;
  /** Hands the admin password to Redshift, which keeps (and rotates) it in Secrets Manager from now on. */
  manageAdminPassword(): Promise<void>;
  waitAvailable(seconds: number): Promise<void>;
  /** Deletes it (and, for Serverless, its namespace), waiting until it is gone; false if there was nothing. */
  remove(seconds: number, finalSnapshot?: string): Promise<boolean>;
  teardownPlan(finalSnapshot?: string): string;
}

/**
 * The request's answer, or undefined when AWS answers with an error named like `expected` (a resource
 * not there to look up or delete, a rule already there to add): the idempotent steps' one mechanism.
 */
export async function ignoring<T>(expected: RegExp, request: () => Promise<T>): Promise<T | undefined> {
  try {
    return await request();
  } catch (error) {
    if (expected.test((error as { name?: string }).name ?? '')) return undefined;
    throw error;
  }
}

/** The SDK waiter's timing: polls every 30–60 s, faster for short limits (its minDelay must stay below maxWaitTime). */
function waiterTiming(seconds: number) {
  const minDelay = Math.max(1, Math.min(30, Math.floor(seconds / 2)));
  return { maxWaitTime: seconds, minDelay, maxDelay: Math.max(minDelay, Math.min(60, seconds)) };
}

/** A provisioned cluster (CreateCluster), with the SDK's own cluster waiters. */
export function clusterCompute(redshift: RedshiftClient, o: ProvisionOptions): Compute {
  const state = (c: Cluster): ComputeState => ({
    status: c.ClusterStatus ?? 'unknown',
    endpoint: c.Endpoint?.Address ? { address: c.Endpoint.Address, port: c.Endpoint.Port ?? o.port } : undefined,
    roles: (c.IamRoles ?? []).map((r) => r.IamRoleArn ?? ''),
    securityGroupId: c.VpcSecurityGroups?.[0]?.VpcSecurityGroupId,
  });
  const describe = async () => {
    const found = await ignoring(/^ClusterNotFoundFault$/, () => redshift.send(new DescribeClustersCommand({ ClusterIdentifier: o.identifier })));
    const cluster = found?.Clusters?.[0];
    return cluster && state(cluster);
  };
  return {
    noun: 'cluster',
    name: o.identifier,
    plan: `Redshift cluster ${o.identifier}: ${o.nodes} × ${o.nodeType} (${o.nodes > 1 ? 'multi-node' : 'single-node'}), database ${o.database}, admin ${o.user}, port ${o.port}, encrypted at rest, ${o.publicFrom ? 'publicly accessible' : 'not publicly accessible'}, role ${o.roleName} attached`,
    describe,
    async create(roleArn, password) {
      const created = await redshift.send(
        new CreateClusterCommand({
          ClusterIdentifier: o.identifier,
          NodeType: o.nodeType,
          ClusterType: o.nodes > 1 ? 'multi-node' : 'single-node',
          ...(o.nodes > 1 ? { NumberOfNodes: o.nodes } : {}),
          DBName: o.database,
          MasterUsername: o.user,
          ...(password ? { MasterUserPassword: password } : { ManageMasterPassword: true }),
          IamRoles: [roleArn],
          Encrypted: true,
          PubliclyAccessible: Boolean(o.publicFrom),
          Port: o.port,
        }),
      );
      return state(created.Cluster!);
    },
    async attachRole(roleArn) {
      await redshift.send(new ModifyClusterIamRolesCommand({ ClusterIdentifier: o.identifier, AddIamRoles: [roleArn] }));
    },
    async manageAdminPassword() {
      await redshift.send(new ModifyClusterCommand({ ClusterIdentifier: o.identifier, ManageMasterPassword: true }));
    },
    async waitAvailable(seconds) {
      await waitUntilClusterAvailable({ client: redshift, ...waiterTiming(seconds) }, { ClusterIdentifier: o.identifier });
    },
    async remove(seconds, finalSnapshot) {
      if (!(await describe())) return false;
      await redshift.send(
        new DeleteClusterCommand({
          ClusterIdentifier: o.identifier,
          ...(finalSnapshot ? { SkipFinalClusterSnapshot: false, FinalClusterSnapshotIdentifier: finalSnapshot } : { SkipFinalClusterSnapshot: true }),
        }),
      );
      await waitUntilClusterDeleted({ client: redshift, ...waiterTiming(seconds) }, { ClusterIdentifier: o.identifier });
      return true;
    },
    teardownPlan: (finalSnapshot) =>
      `Delete Redshift cluster ${o.identifier} (${finalSnapshot ? `final snapshot ${finalSnapshot}` : 'no final snapshot'}) and wait until it is gone`,
  };
}

/**
 * Redshift Serverless: a namespace (database, admin, roles) and a workgroup (compute, endpoint),
 * both named after the identifier. The Serverless client has no waiters; ours are built with the
 * SDK's own waiter machinery (@smithy/core's createWaiter), as its generated waiters are.
 */
export function serverlessCompute(client: RedshiftServerlessClient, o: ProvisionOptions): Compute {
  const name = o.identifier;
  const getWorkgroup = async (): Promise<Workgroup | undefined> =>
    (await ignoring(/^ResourceNotFoundException$/, () => client.send(new GetWorkgroupCommand({ workgroupName: name }))))?.workgroup;
  const getNamespace = async (): Promise<Namespace | undefined> =>
    (await ignoring(/^ResourceNotFoundException$/, () => client.send(new GetNamespaceCommand({ namespaceName: name }))))?.namespace;
  const state = (w: Workgroup, n: Namespace | undefined): ComputeState => ({
    status: w.status ?? 'unknown',
    endpoint: w.endpoint?.address ? { address: w.endpoint.address, port: w.endpoint.port ?? o.port } : undefined,
    roles: n?.iamRoles ?? [],
    securityGroupId: w.securityGroupIds?.[0],
  });
  /** Waits until `done` says so, polling with the SDK's waiter timing; a timeout throws TimeoutError. */
  const waitFor = async (seconds: number, what: string, done: () => Promise<boolean>) => {
    const result = await createWaiter({ client, ...waiterTiming(seconds) }, {}, async () =>
      (await done()) ? { state: WaiterState.SUCCESS, reason: what } : { state: WaiterState.RETRY, reason: what },
    );
    checkExceptions(result);
  };
  return {
    noun: 'workgroup',
    name,
    plan: `Redshift Serverless namespace ${name} (database ${o.database}, admin ${o.user}, encrypted at rest, role ${o.roleName} as default) and workgroup ${name} (${o.baseCapacity} RPUs base capacity, port ${o.port}, ${o.publicFrom ? 'publicly accessible' : 'not publicly accessible'})`,
    async describe() {
      const workgroup = await getWorkgroup();
      return workgroup && state(workgroup, await getNamespace());
    },
    async create(roleArn, password) {
      let namespace = await getNamespace();
      if (!namespace) {
        namespace = (
          await client.send(
            new CreateNamespaceCommand({
              namespaceName: name,
              dbName: o.database,
              adminUsername: o.user,
              ...(password ? { adminUserPassword: password } : { manageAdminPassword: true }),
              iamRoles: [roleArn],
              defaultIamRoleArn: roleArn,
            }),
          )
        ).namespace;
      }
      const workgroup = (
        await client.send(
          new CreateWorkgroupCommand({ workgroupName: name, namespaceName: name, baseCapacity: o.baseCapacity, publiclyAccessible: Boolean(o.publicFrom), port: o.port }),
        )
      ).workgroup!;
      return state(workgroup, namespace);
    },
    async attachRole(roleArn) {
      const roles = (await getNamespace())?.iamRoles ?? [];
      await client.send(new UpdateNamespaceCommand({ namespaceName: name, iamRoles: [...roles, roleArn], defaultIamRoleArn: roleArn }));
    },
    async manageAdminPassword() {
      await client.send(new UpdateNamespaceCommand({ namespaceName: name, manageAdminPassword: true }));
    },
    async waitAvailable(seconds) {
      await waitFor(seconds, `workgroup ${name} available`, async () => (await getWorkgroup())?.status === 'AVAILABLE' && (await getNamespace())?.status === 'AVAILABLE');
    },
    async remove(seconds, finalSnapshot) {
      // A failed provision may have left the namespace without its workgroup: each goes if it is there.
      let removed = false;
      if (await getWorkgroup()) {
        await client.send(new DeleteWorkgroupCommand({ workgroupName: name }));
        await waitFor(seconds, `workgroup ${name} deleted`, async () => !(await getWorkgroup()));
        removed = true;
      }
      if (await getNamespace()) {
        await client.send(new DeleteNamespaceCommand({ namespaceName: name, ...(finalSnapshot ? { finalSnapshotName: finalSnapshot } : {}) }));
        await waitFor(seconds, `namespace ${name} deleted`, async () => !(await getNamespace()));
        removed = true;
      }
      return removed;
    },
    teardownPlan: (finalSnapshot) =>
      `Delete Redshift Serverless workgroup ${name}, then namespace ${name} (${finalSnapshot ? `final snapshot ${finalSnapshot}` : 'no final snapshot'}), waiting until each is gone`,
  };
}
