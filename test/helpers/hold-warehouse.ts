// Opens the embedded warehouse under SPARKIFY_HOME, says "ready" and waits to be killed.
import { openWarehouse } from '../../src/db/connection.js';

const wh = openWarehouse();
await (await wh.pool()).query('select 1');
process.stdout.write('ready\n');
setInterval(() => {}, 1000);
