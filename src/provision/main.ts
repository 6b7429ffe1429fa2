// npm run provision / npm run teardown: the Redshift cluster, its IAM role and access, kept apart from the ETL.
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { RedshiftClient } from '@aws-sdk/client-redshift';
import { RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config.js';
import { parseProvisionOptions, parseTeardownOptions } from './options.js';
import { type AwsClients, provision, provisionPlan, provisionStatus, teardown, teardownPlan } from './provision.js';

/** Clients for the region, credentials from the SDK's default chain (environment, profile, SSO). */
function clients(region: string): AwsClients {
  return {
    redshift: new RedshiftClient({ region }),
    serverless: new RedshiftServerlessClient({ region }),
    iam: new IAMClient({ region }),
    ec2: new EC2Client({ region }),
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Runs the provisioning command line; `aws` replaces the real clients in tests. */
export async function provisionCli(argv: string[], aws?: (region: string) => AwsClients): Promise<void> {
  const home = loadConfig({ ...process.env, SPARKIFY_TARGET: '' }).home;
  const common = {
    region: { type: 'string', describe: 'AWS region (default: AWS_REGION)' },
    identifier: { type: 'string', describe: 'Cluster identifier (default sparkify-dwh)' },
    'role-name': { type: 'string', describe: 'IAM role name (default sparkify-redshift-s3-read)' },
    'dry-run': { type: 'boolean', default: false, describe: 'Print the plan; needs no AWS credentials' },
    'wait-seconds': { type: 'number', describe: 'How long to wait for the cluster or workgroup (default 1800)' },
    serverless: { type: 'boolean', describe: 'Redshift Serverless: a namespace and a workgroup named after --identifier' },
  } as const;
  const options = (a: Record<string, unknown>, parse = parseProvisionOptions) =>
    parse(
      Object.fromEntries(
        Object.entries({
          region: a.region ?? process.env.AWS_REGION,
          identifier: a.identifier,
          nodeType: a['node-type'],
          nodes: a.nodes,
          database: a.database,
          user: a.user,
          port: a.port,
          roleName: a['role-name'],
          s3: a.s3 ?? process.env.SPARKIFY_S3_STAGING,
          managedS3ReadOnly: a['managed-s3-read-only'],
          publicFrom: a['public-from'],
          managedPassword: a['managed-password'],
          waitSeconds: a['wait-seconds'],
          serverless: a.serverless,
          baseCapacity: a['base-capacity'],
        }).filter(([, v]) => v !== undefined),
      ),
    );
  await yargs(argv)
    .scriptName('provision')
    .command(
      'provision',
      'Create (or adopt) the IAM role and the Redshift cluster (or, with --serverless, namespace and workgroup), wait until it is available, and write the connection config',
      (y) =>
        y
          .options(common)
          .option('node-type', { type: 'string', describe: 'Node type (default ra3.large)' })
          .option('base-capacity', { type: 'number', describe: 'Serverless base capacity in RPUs, 8 to 1024 in steps of 8 (default 8)' })
          .option('nodes', { type: 'number', describe: 'Number of nodes (default 2)' })
          .option('database', { type: 'string', describe: 'Database name (default sparkify)' })
          .option('user', { type: 'string', describe: 'Admin user (default sparkify_admin)' })
          .option('port', { type: 'number', describe: 'Port (default 5439)' })
          .option('s3', { type: 'string', describe: 'The s3:// prefix COPY reads; the role may read only it (default: SPARKIFY_S3_STAGING)' })
          .option('managed-s3-read-only', { type: 'boolean', describe: 'Grant AmazonS3ReadOnlyAccess instead' })
          .option('public-from', { type: 'string', describe: 'Make the cluster public, with its port open to this IPv4 address (/32) only' })
          .option('managed-password', { type: 'boolean', describe: 'Keep the admin password in Secrets Manager (Redshift-managed)' })
          .option('status', { type: 'boolean', default: false, describe: 'Report what exists, change nothing' }),
      async (a) => {
        const o = options(a);
        if (a['dry-run']) return void provisionPlan(o).forEach((l) => log(`- ${l}`));
        const client = (aws ?? clients)(o.region);
        if (a.status) return void (await provisionStatus(client, o, home)).forEach(log);
        await provision(client, o, home, log);
      },
    )
    .command(
      'teardown',
      'Delete the cluster (or Serverless workgroup and namespace) and the role and rule provisioning created, and the local config',
      (y) =>
        y
          .options(common)
          .option('final-snapshot', { type: 'string', describe: 'Take a final snapshot with this identifier (default: none)' })
          .option('yes', { type: 'boolean', default: false, describe: 'Confirm the deletion' }),
      async (a) => {
        if (!(a.region ?? process.env.AWS_REGION)) throw new Error('Name the region: --region or AWS_REGION');
        const o = options(a, parseTeardownOptions);
        if (a['dry-run']) return void teardownPlan(o, a['final-snapshot']).forEach((l) => log(`- ${l}`));
        if (!a.yes) throw new Error(`This deletes ${o.serverless ? 'workgroup and namespace' : 'cluster'} ${o.identifier} and its data${a['final-snapshot'] ? '' : ' without a snapshot'}: run again with --yes to confirm (or --dry-run to see the plan).`);
        await teardown((aws ?? clients)(o.region), o, home, log, a['final-snapshot']);
      },
    )
    .demandCommand(1)
    .strict()
    .help()
    .fail((message, error) => {
      throw error ?? new Error(message);
    })
    .parseAsync();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await provisionCli(hideBin(process.argv));
  } catch (error) {
    process.stderr.write(`provision: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
