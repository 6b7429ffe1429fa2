import { GetClusterCredentialsCommand, GetClusterCredentialsWithIAMCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { GetCredentialsCommand, RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import type { DbCredentials, Mint } from '../credentials.js';

/**
 * How to log in with IAM, one of AWS's three credential APIs:
 * - a provisioned cluster, as the database user mapped from the caller's IAM identity:
 *   GetClusterCredentialsWithIAM (https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentialsWithIAM.html);
 * - a provisioned cluster, as a named database user: GetClusterCredentials
 *   (https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentials.html);
 * - Serverless, as the mapped user: GetCredentials
 *   (https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html).
 * All three take a lifetime of 900 to 3600 seconds.
 */
export type IamLogin =
  | { api: 'GetClusterCredentialsWithIAM'; cluster: string; database: string; region: string; durationSeconds: number }
  | { api: 'GetClusterCredentials'; cluster: string; database: string; region: string; durationSeconds: number; user: string; autoCreate: boolean }
  | { api: 'GetCredentials'; workgroup: string; database: string; region: string; durationSeconds: number };

/** The AWS clients minting needs; created lazily so password logins never load them. */
export interface IamClients {
  redshift(): RedshiftClient;
  serverless(): RedshiftServerlessClient;
}

/** The caller's identity may not mint: the message names the API, the resource and the statement to add. */
export class IamNotAuthorisedError extends Error {
  override name = 'IamNotAuthorisedError';
}

/** Minting failed for another reason (no such cluster, no AWS credentials, …). */
export class IamLoginError extends Error {
  override name = 'IamLoginError';
}

/** The SDK call behind `login`: mints one login; errors are explained, and never carry a password. */
export function iamMint(login: IamLogin, clients: IamClients): Mint {
  return async (): Promise<DbCredentials> => {
    try {
      if (login.api === 'GetCredentials') {
        const out = await clients.serverless().send(
          new GetCredentialsCommand({ workgroupName: login.workgroup, dbName: login.database, durationSeconds: login.durationSeconds }),
        );
        return checked(login, out.dbUser, out.dbPassword, out.expiration, out.nextRefreshTime);
      }
      if (login.api === 'GetClusterCredentialsWithIAM') {
        const out = await clients.redshift().send(
          new GetClusterCredentialsWithIAMCommand({ ClusterIdentifier: login.cluster, DbName: login.database, DurationSeconds: login.durationSeconds }),
        );
        return checked(login, out.DbUser, out.DbPassword, out.Expiration, out.NextRefreshTime);
      }
      const out = await clients.redshift().send(
        new GetClusterCredentialsCommand({
          ClusterIdentifier: login.cluster,
          DbName: login.database,
          DbUser: login.user,
          AutoCreate: login.autoCreate,
          DurationSeconds: login.durationSeconds,
        }),
      );
      return checked(login, out.DbUser, out.DbPassword, out.Expiration);
    } catch (error) {
      throw explainMintError(login, error);
    }
  };
}

function checked(login: IamLogin, user?: string, password?: string, expiration?: Date, refreshAfter?: Date): DbCredentials {
  if (!user || !password || !expiration) throw new IamLoginError(`${login.api} answered without a user, password or expiration`);
  return { user, password, expiration, refreshAfter };
}

/** Where a login goes, for messages: "cluster sparkify-dwh" or "workgroup sparkify-dwh". */
export function loginTarget(login: IamLogin): string {
  return login.api === 'GetCredentials' ? `workgroup ${login.workgroup}` : `cluster ${login.cluster}`;
}

/**
 * The IAM policy statement that lets the caller mint this login. Resource formats:
 * https://docs.aws.amazon.com/redshift/latest/mgmt/redshift-iam-access-control-identity-based.html and
 * https://docs.aws.amazon.com/redshift/latest/mgmt/generating-iam-credentials-role-permissions.html.
 * The account (and Serverless' workgroup id) come from AWS's error when it names the resource.
 */
export function policyStatement(login: IamLogin, deniedResource?: string): object {
  const account = /^arn:[\w-]+:[\w-]+:[\w-]*:(\d{12}):/.exec(deniedResource ?? '')?.[1] ?? '<account-id>';
  const arn = (kind: string, name: string) => `arn:aws:redshift:${login.region}:${account}:${kind}:${name}`;
  if (login.api === 'GetCredentials') {
    const workgroup = deniedResource?.includes(':workgroup/') ? deniedResource : `arn:aws:redshift-serverless:${login.region}:${account}:workgroup/<workgroup-id of ${login.workgroup}>`;
    return { Effect: 'Allow', Action: 'redshift-serverless:GetCredentials', Resource: workgroup };
  }
  if (login.api === 'GetClusterCredentialsWithIAM') {
    return { Effect: 'Allow', Action: 'redshift:GetClusterCredentialsWithIAM', Resource: arn('dbname', `${login.cluster}/${login.database}`) };
  }
  return {
    Effect: 'Allow',
    Action: ['redshift:GetClusterCredentials', ...(login.autoCreate ? ['redshift:CreateClusterUser'] : [])],
    Resource: [arn('dbuser', `${login.cluster}/${login.user}`), arn('dbname', `${login.cluster}/${login.database}`)],
  };
}

function explainMintError(login: IamLogin, error: unknown): Error {
  const e = error as { name?: string; message?: string };
  const name = e.name ?? 'Error';
  const message = e.message ?? '';
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized|not authorized/i.test(`${name} ${message}`)) {
    const resource = /on resource: (arn:\S+?)(?=[\s,]|$)/.exec(message)?.[1];
    return new IamNotAuthorisedError(
      `not authorised to ${login.api} on ${loginTarget(login)}: add this statement to your IAM policy (or choose REDSHIFT_AUTH=password):\n` +
        JSON.stringify(policyStatement(login, resource), null, 2),
    );
  }
  if (/ClusterNotFound|ResourceNotFound/.test(name)) {
    const setting = login.api === 'GetCredentials' ? 'REDSHIFT_WORKGROUP' : 'REDSHIFT_CLUSTER';
    return new IamLoginError(`${loginTarget(login)} was not found in ${login.region}: check ${setting} and AWS_REGION`);
  }
  if (/CredentialsProviderError|ExpiredToken|InvalidClientTokenId/.test(name)) {
    return new IamLoginError(
      `IAM login needs AWS credentials, and the SDK's default chain gave none that work (${name}): set AWS_PROFILE, run aws sso login, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
    );
  }
  return new IamLoginError(`${login.api} on ${loginTarget(login)} failed: ${name}${message ? `: ${message}` : ''}`);
}

/** Clients for the region, credentials from the SDK's default chain (as provisioning's). */
export function awsIamClients(region: string | undefined): IamClients {
  let redshift: RedshiftClient | undefined;
  let serverless: RedshiftServerlessClient | undefined;
  return {
    redshift: () => (redshift ??= new RedshiftClient({ region })),
    serverless: () => (serverless ??= new RedshiftServerlessClient({ region })),
  };
}
