// `sparkify provision` / `sparkify teardown` (npm run provision / teardown): the Redshift cluster, its
// IAM role and access, kept apart from the ETL. The option declarations load nothing heavy; the AWS
// SDK and the validation load only when one of these commands runs.
import type { Argv } from 'yargs';
import { UsageError } from '../cli/options.js';
import { countOption } from '../cli/options.js';
import type { AwsClients } from './provision.js';

/** Clients for the region, credentials from the SDK's default chain (environment, profile, SSO). */
async function clients(region: string): Promise<AwsClients> {
  const [{ EC2Client }, { IAMClient }, { RedshiftClient }, { RedshiftServerlessClient }] = await Promise.all([
    import('@aws-sdk/client-ec2'),
    import('@aws-sdk/client-iam'),
    import('@aws-sdk/client-redshift'),
    import('@aws-sdk/client-redshift-serverless'),
  ]);
  return {
    redshift: new RedshiftClient({ region }),
    serverless: new RedshiftServerlessClient({ region }),
    iam: new IAMClient({ region }),
    ec2: new EC2Client({ region }),
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Options both commands take: what to find (region, names) and how long to wait. */
const common = (y: Argv) =>
  y
    .option('region', { type: 'string', requiresArg: true, describe: 'AWS region (default: AWS_REGION)' })
    .option('identifier', { type: 'string', requiresArg: true, describe: 'Cluster identifier (default sparkify-dwh)' })
    .option('role-name', { type: 'string', requiresArg: true, describe: 'IAM role name (default sparkify-redshift-s3-read)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print the plan; needs no AWS credentials' })
    .option('wait-seconds', countOption('wait-seconds', 'How long to wait for the cluster or workgroup (default 1800)', { min: 1, max: 86_400 }))
    .option('serverless', { type: 'boolean', describe: 'Redshift Serverless: a namespace and a workgroup named after --identifier' });

/** Declares `provision`'s options. */
export const provisionOptions = (y: Argv) =>
  common(y)
    .option('node-type', { type: 'string', requiresArg: true, describe: 'Node type (default ra3.large)' })
    .option('base-capacity', countOption('base-capacity', 'Serverless base capacity in RPUs, 8 to 1024 in steps of 8 (default 8)', { min: 8, max: 1024 }))
    .option('nodes', countOption('nodes', 'Number of nodes (default 2)', { min: 1, max: 128 }))
    .option('database', { type: 'string', requiresArg: true, describe: 'Database name (default sparkify)' })
    .option('user', { type: 'string', requiresArg: true, describe: 'Admin user (default sparkify_admin)' })
    .option('port', countOption('port', 'Port (default 5439)', { min: 1150, max: 65535 }))
    .option('s3', { type: 'string', requiresArg: true, describe: 'The staging s3:// prefix (uploads, JSONPaths file); the role may read it (default: SPARKIFY_S3_STAGING)' })
    .option('source', { type: 'string', array: true, requiresArg: true, describe: 'An s3:// prefix COPY loads from (repeatable), e.g. s3://udacity-dend/log_data/; the role may read only these and --s3' })
    .option('managed-s3-read-only', { type: 'boolean', describe: 'Grant AmazonS3ReadOnlyAccess instead' })
    .option('public-from', { type: 'string', requiresArg: true, describe: 'Make the cluster public, with its port open to this IPv4 address (/32) only' })
    .option('managed-password', { type: 'boolean', describe: 'Keep the admin password in Secrets Manager (Redshift-managed)' })
    .option('auth', { type: 'string', requiresArg: true, describe: 'How the ETL logs in: iam (short-lived IAM credentials, default) or password (the admin password, stored locally)' })
    .option('status', { type: 'boolean', default: false, describe: 'Report what exists, change nothing (needs only --region)' });

/** Declares `teardown`'s options. */
export const teardownOptions = (y: Argv) =>
  common(y)
    .option('final-snapshot', { type: 'string', requiresArg: true, describe: 'Take a final snapshot with this identifier (default: none)' })
    .option('yes', { type: 'boolean', default: false, describe: 'Confirm the deletion' });

type Args = Record<string, unknown>;

/** The options object the validators take, from the command line and the environment. */
function gather(a: Args) {
  const region = a.region ?? process.env.AWS_REGION;
  if (!region) throw new UsageError('Name the AWS region: --region us-west-2 (or set AWS_REGION).');
  return Object.fromEntries(
    Object.entries({
      region,
      identifier: a.identifier,
      nodeType: a['node-type'],
      nodes: a.nodes,
      database: a.database,
      user: a.user,
      port: a.port,
      roleName: a['role-name'],
      s3: a.s3 ?? process.env.SPARKIFY_S3_STAGING,
      sources: a.source,
      managedS3ReadOnly: a['managed-s3-read-only'],
      publicFrom: a['public-from'],
      managedPassword: a['managed-password'],
      auth: a.auth,
      waitSeconds: a['wait-seconds'],
      serverless: a.serverless,
      baseCapacity: a['base-capacity'],
    }).filter(([, v]) => v !== undefined),
  );
}

async function home(): Promise<string> {
  const { loadConfig } = await import('../config.js');
  return loadConfig({ ...process.env, SPARKIFY_TARGET: '' }).home;
}

/** Runs `provision` (or its `--status` / `--dry-run`); `aws` replaces the real clients in tests. */
export async function runProvision(a: Args, aws: (region: string) => Promise<AwsClients> = clients): Promise<void> {
  const [{ parseProvisionOptions, parseTeardownOptions }, { provision, provisionPlan, provisionStatus }] = await Promise.all([
    import('./options.js'),
    import('./provision.js'),
  ]);
  // --status only looks: it needs to know where, not what S3 access to grant.
  const o = a.status ? parseTeardownOptions(gather(a)) : parseProvisionOptions(gather(a));
  if (a['dry-run']) return void provisionPlan(o).forEach((l) => log(`- ${l}`));
  const client = await aws(o.region);
  if (a.status) return void (await provisionStatus(client, o, await home())).forEach(log);
  await provision(client, o, await home(), log);
}

/** Runs `teardown`; `aws` replaces the real clients in tests. */
export async function runTeardown(a: Args, aws: (region: string) => Promise<AwsClients> = clients): Promise<void> {
  const [{ parseTeardownOptions }, { teardown, teardownPlan }] = await Promise.all([import('./options.js'), import('./provision.js')]);
  const o = parseTeardownOptions(gather(a));
  const snapshot = a['final-snapshot'] as string | undefined;
  if (a['dry-run']) return void teardownPlan(o, snapshot).forEach((l) => log(`- ${l}`));
  if (!a.yes) {
    throw new UsageError(
      `This deletes ${o.serverless ? 'workgroup and namespace' : 'cluster'} ${o.identifier} and its data${snapshot ? '' : ' without a snapshot'}: run again with --yes to confirm (or --dry-run to see the plan).`,
    );
  }
  await teardown(await aws(o.region), o, await home(), log, snapshot);
}
