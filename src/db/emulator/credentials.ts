import { randomBytes } from 'node:crypto';
import { RedshiftClient } from '@aws-sdk/client-redshift';
import { RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import pg from 'pg';
import type { IamClients } from '../redshift/iam.js';
import { createSystemTables, grantEmulatorTables } from './system-tables.js';

/**
 * The emulation's stand-in for AWS's credential APIs, as LocalS3 stands in for S3: it mints real
 * PostgreSQL logins (a role with a password and VALID UNTIL), so the server behind the emulation
 * enforces expiry at login as Redshift does, and a login's privileges are its role's.
 *
 * Rules emulated, each from its page:
 * - DurationSeconds must be 900 to 3600 (default 900) for all three APIs
 *   (https://docs.aws.amazon.com/redshift/latest/APIReference/API_GetClusterCredentialsWithIAM.html,
 *   .../API_GetClusterCredentials.html, https://docs.aws.amazon.com/redshift-serverless/latest/APIReference/API_GetCredentials.html).
 * - The mapped user is "IAM:<user name>" for an IAM user and "IAMR:<role name>" for a role, and is
 *   created at its first login (https://docs.aws.amazon.com/redshift/latest/mgmt/generating-iam-credentials-overview.html);
 *   the emulation creates the role when it mints, which is indistinguishable to a client.
 * - GetClusterCredentials answers DbUser "IAM:<DbUser>", or "IAMA:<DbUser>" with AutoCreate, and that
 *   login is the user DbUser (https://docs.aws.amazon.com/redshift/latest/mgmt/generating-iam-credentials-cli-api.html).
 *   Without AutoCreate a user that does not exist cannot log in: the API reference says the call
 *   succeeds and the login fails, the CLI page that the call fails; the emulation follows the API
 *   reference (the login's error then names the user).
 * - An expired password stops new logins only: sessions already open go on (the pages speak of
 *   logging in; they are silent on open sessions, so the emulation does what PostgreSQL's VALID UNTIL does).
 * Not emulated: Redshift keeps every minted password valid until its own expiry, PostgreSQL has one
 * password per role, so a new mint retires the previous password for new logins. A process refreshes
 * before it connects, so this does not show within one; two processes minting for the same identity
 * at the same moment could refuse each other's next connection.
 */
export class LocalCredentialIssuer {
  readonly #admin: pg.Pool;
  readonly #identity: string;
  readonly #lifetimeMs?: number;
  /** GetClusterCredentials' logins ("IAM:alice") and the user each logs in as ("alice"). */
  readonly #named = new Map<string, string>();
  readonly #granted = new Set<string>();

  /**
   * @param admin a superuser pool on the server behind the emulation
   * @param identity the caller's IAM ARN, as STS would report it (user or assumed role)
   * @param lifetimeMs tests only: shorten every login's life to see refreshes within a test's time
   */
  constructor(admin: pg.Pool, identity: string, lifetimeMs?: number) {
    this.#admin = admin;
    this.#identity = identity;
    this.#lifetimeMs = lifetimeMs;
  }

  /** The database user an IAM identity maps to. */
  static mappedUser(identity: string): string {
    // arn:aws:iam::<account>:user/<path/>alice, :role/<path/>etl, or arn:aws:sts::<account>:assumed-role/etl/<session>
    const assumed = /:assumed-role\/([^/]+)\//.exec(identity)?.[1];
    if (assumed) return `IAMR:${assumed}`;
    const name = identity.split('/').pop()!;
    return /:role\//.test(identity) ? `IAMR:${name}` : `IAM:${name}`;
  }

  /** The server role a minted login name logs in as: Redshift maps "IAM:alice" from GetClusterCredentials to alice. */
  roleFor(login: string): string {
    return this.#named.get(login) ?? login;
  }

  /** The emulation's tables, set up and granted to the login (once per role and issuer). */
  async #ready(user: string): Promise<void> {
    if (this.#granted.has(user)) return;
    const client = await this.#admin.connect();
    try {
      await createSystemTables(client);
      await grantEmulatorTables(client, user);
    } finally {
      client.release();
    }
    this.#granted.add(user);
  }

  /** Answers one credential API call as AWS would, or throws its error. */
  async answer(command: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const serverless = command === 'GetCredentialsCommand';
    const seconds = (serverless ? input.durationSeconds : input.DurationSeconds) as number | undefined;
    if (seconds !== undefined && (seconds < 900 || seconds > 3600)) {
      throw Object.assign(new Error(`DurationSeconds must be between 900 and 3600 (was ${seconds})`), { name: serverless ? 'ValidationException' : 'InvalidParameterValue' });
    }
    const lifeMs = this.#lifetimeMs ?? (seconds ?? 900) * 1000;
    const expiration = new Date(Date.now() + lifeMs);
    const password = randomBytes(24).toString('base64url');
    if (command === 'GetClusterCredentialsCommand') {
      const user = String(input.DbUser);
      const autoCreate = Boolean(input.AutoCreate);
      // A user that does not exist cannot log in; the call succeeds all the same (the API reference's reading).
      await this.#setLogin(user, password, expiration, autoCreate);
      const login = `${autoCreate ? 'IAMA' : 'IAM'}:${user}`;
      this.#named.set(login, user);
      return { DbUser: login, DbPassword: password, Expiration: expiration };
    }
    if (command === 'GetClusterCredentialsWithIAMCommand' || serverless) {
      const user = LocalCredentialIssuer.mappedUser(this.#identity);
      await this.#setLogin(user, password, expiration, true);
      return serverless ? { dbUser: user, dbPassword: password, expiration } : { DbUser: user, DbPassword: password, Expiration: expiration };
    }
    throw new Error(`the emulation does not answer ${command}`);
  }

  /** Sets the role's password and expiry; creates it if allowed (else a user that does not exist stays so). */
  async #setLogin(user: string, password: string, expiration: Date, create: boolean): Promise<void> {
    const admin = (this.#admin as unknown as { options: { user?: string; connectionString?: string } }).options;
    const adminUser = admin.user ?? (admin.connectionString ? decodeURIComponent(new URL(admin.connectionString).username) : undefined);
    if (user === adminUser) {
      // Minting would change the emulation's own login's password: refuse rather than lock it out.
      throw Object.assign(new Error(`the emulation cannot mint a login for ${user}: it is the login the emulation itself uses`), { name: 'InvalidParameterValue' });
    }
    const role = pg.escapeIdentifier(user);
    const secret = pg.escapeLiteral(password);
    const until = pg.escapeLiteral(expiration.toISOString());
    const { rowCount } = await this.#admin.query('select 1 from pg_roles where rolname = $1', [user]);
    if (!rowCount && !create) return;
    const set = `login password ${secret} valid until ${until}`;
    if (rowCount) {
      await this.#admin.query(`alter role ${role} ${set}`);
    } else {
      // Roles are server-wide: another database's emulation may create the same one concurrently.
      await this.#admin.query(`create role ${role} ${set}`).catch(async (error) => {
        if (!['42710', '23505'].includes((error as { code?: string }).code ?? '')) throw error;
        await this.#admin.query(`alter role ${role} ${set}`);
      });
    }
    await this.#ready(user);
  }
}

/** SDK clients whose credential calls the issuer answers in-process (a middleware before any network step). */
export function emulatedIamClients(issuer: LocalCredentialIssuer, region: string): IamClients {
  const answerLocally = <C extends { middlewareStack: { add(m: never, o: object): void } }>(client: C): C => {
    const middleware = (_next: unknown, context: { commandName?: string }) => async (args: { input: object }) => ({
      output: await issuer.answer(String(context.commandName), args.input as Record<string, unknown>),
      response: {},
    });
    client.middlewareStack.add(middleware as never, { step: 'initialize', name: 'sparkifyEmulatedCredentials' });
    return client;
  };
  const credentials = { accessKeyId: 'emulator', secretAccessKey: 'emulator' };
  let redshift: RedshiftClient | undefined;
  let serverless: RedshiftServerlessClient | undefined;
  return {
    redshift: () => (redshift ??= answerLocally(new RedshiftClient({ region, credentials }))),
    serverless: () => (serverless ??= answerLocally(new RedshiftServerlessClient({ region, credentials }))),
  };
}
