import { UsageError, isUsageError } from './options.js';

/** What to tell the user about a failure, and the exit status. */
export interface Explanation {
  message: string;
  hint?: string;
  exitCode: number;
}

/** Context that makes a connection error say where: the warehouse as described for display (no password). */
export interface ErrorContext {
  warehouse?: string;
}

type Coded = Error & { code?: string; address?: string; port?: number; hostname?: string; errors?: unknown[] };

/** PostgreSQL's five-character error codes (Node's own codes are words like ECONNREFUSED). */
const SQLSTATE = /^[0-9A-Z]{5}$/;

const DEBUG_HINT = 'Run again with --debug (or DEBUG=sparkify) to see where it happened.';

/** Classifies an error into one message the user can act on; never includes a stack. */
export function explain(error: unknown, context: ErrorContext = {}): Explanation {
  if (isUsageError(error)) return { message: (error as Error).message, hint: 'Run with --help for usage.', exitCode: 2 };
  if (!(error instanceof Error)) return { message: String(error), hint: DEBUG_HINT, exitCode: 1 };
  const connection = connectionProblem(error as Coded, context);
  if (connection) return { message: connection, exitCode: 1 };
  // Errors we raise on purpose (configuration, input, checks, an embedded server that did not start)
  // already say what failed and what to do.
  if (isDeliberate(error)) return { message: error.message, exitCode: 1 };
  const code = (error as Coded).code;
  if (typeof code === 'string' && SQLSTATE.test(code)) {
    return { message: `The database refused a statement: ${error.message} (SQLSTATE ${code})`, hint: DEBUG_HINT, exitCode: 1 };
  }
  if (error.name === 'CredentialsProviderError') {
    return { message: 'No AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or sign in with `aws sso login`.', exitCode: 1 };
  }
  const firstLine = error.message.split('\n')[0] ?? '';
  return { message: `Unexpected error: ${firstLine || error.name}`, hint: DEBUG_HINT, exitCode: 1 };
}

/**
 * Errors we raise (plain `Error` or our own classes: configuration, input, bad records, checks, an
 * embedded server that did not start) carry a message written for the user. JavaScript's own error
 * types are programming mistakes, and a raw SQL error is the database talking: neither is.
 */
function isDeliberate(error: Error): boolean {
  const code = (error as Coded).code;
  if (typeof code === 'string' && SQLSTATE.test(code)) return false;
  return ![TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError, AggregateError].some((type) => error instanceof type);
}

function connectionProblem(error: Coded, { warehouse }: ErrorContext): string | undefined {
  const at = warehouse ? ` (${warehouse})` : '';
  // Node reports a failed connection to a name with several addresses (localhost) as an AggregateError.
  const inner = (error.errors?.find((e) => e instanceof Error) as Coded | undefined) ?? error;
  const code = error.code ?? inner.code;
  const where = inner.address ? `${inner.address}:${inner.port}` : warehouse;
  switch (code) {
    case '28P01':
    case '28000':
      if (warehouse?.includes('IAM login')) {
        return `The IAM login was refused${at}: ${error.message}. A named user (REDSHIFT_USER) must exist unless REDSHIFT_AUTO_CREATE=true; check REDSHIFT_CLUSTER or REDSHIFT_WORKGROUP and the database name.`;
      }
      return `Authentication failed${at}: ${error.message}. Check the user and password in DATABASE_URL.`;
    case '3D000':
      return `${capitalise(error.message)}${at}. Create it (e.g. createdb) or fix the database name in DATABASE_URL.`;
    case 'ECONNREFUSED':
      return `Could not connect: nothing is listening at ${where}. Is the server running, and are the host and port in DATABASE_URL right?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Could not connect: host not found: ${inner.hostname ?? where}. Check the host in DATABASE_URL.`;
    case 'ETIMEDOUT':
      return `Could not connect: no answer from ${where}. Check the host, the port and any firewall in between.`;
    case '57P03':
      return `The server is starting up or shutting down${at}; try again in a moment.`;
    default:
      return undefined;
  }
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Whether the user asked for stacks: `--debug` or `DEBUG=sparkify` (DEBUG may list several names). */
export function debugWanted(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--debug') || (env.DEBUG ?? '').split(/[\s,]+/).some((n) => n === 'sparkify' || n === '*');
}

/** Prints the explanation on stderr (the stack too when debugging) and returns the exit status. */
export function report(error: unknown, context: ErrorContext, debug: boolean, write = (s: string) => process.stderr.write(s)): number {
  const { message, hint, exitCode } = explain(error, context);
  write(`sparkify: ${message}\n`);
  if (hint) write(`${hint}\n`);
  if (debug && error instanceof Error && error.stack) write(`${error.stack}\n`);
  return exitCode;
}

export { UsageError };
