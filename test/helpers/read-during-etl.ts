// A reader, as a notebook would be: connect() to the embedded warehouse under SPARKIFY_HOME and
// count the star tables in one statement, again and again, printing one JSON line per answer,
// until its stdin closes.
import { sql } from 'kysely';
import { connect } from '../../src/index.js';

const db = connect();
let open = true;
process.stdin.on('end', () => (open = false)).resume();
while (open) {
  const { rows } = await sql<{ songplays: number; time: number; users: number; runs: number }>`
    select (select count(*) from songplays) as songplays, (select count(*) from time) as time,
           (select count(*) from users) as users, (select count(*) from etl_runs where status = 'succeeded') as runs`.execute(db);
  process.stdout.write(`${JSON.stringify(rows[0])}\n`);
  await new Promise((r) => setTimeout(r, 20));
}
await db.destroy();
