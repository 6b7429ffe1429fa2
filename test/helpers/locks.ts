import pg from 'pg';

/** Polls `ready` until it holds (a condition, not a guess at a duration); fails after `ms`. */
export async function until(what: string, ready: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A session of the test holding ACCESS EXCLUSIVE on a table, so that a run reaching the table waits there. */
export async function holdTable(url: string, table: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await client.query(`lock table ${pg.escapeIdentifier(table)} in access exclusive mode`);
  return async () => {
    await client.query('rollback');
    await client.end();
  };
}

/** How many other sessions wait for a lock on `table` (only the runs under test touch the test's database). */
export async function waitingOn(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query('select count(*)::int as n from pg_locks where not granted and relation = to_regclass($1)', [table]);
    return rows[0].n;
  } finally {
    await client.end();
  }
}

/** Some other session waits for a lock on `table`. */
export const waitsOn = async (url: string, table: string) => (await waitingOn(url, table)) > 0;
