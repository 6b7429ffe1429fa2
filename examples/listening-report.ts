// A notebook-style session: what do Sparkify's users listen to?
// Run with: npm run build && npx tsx examples/listening-report.ts   (uses the configured warehouse)
import { connect, levelSplit, playsByHour, topArtists, topSongs, userActivity } from 'sparkify-dwh';

const db = connect();
try {
  const songs = await topSongs(db, { limit: 5 });
  const artists = await topArtists(db, { limit: 5 });
  const hours = await playsByHour(db);
  const levels = await levelSplit(db);
  // Typed rows extend like any Kysely query: here, the busiest user's activity.
  const busiest = await db
    .selectFrom('songplays')
    .select((eb) => ['user_id', eb.fn.countAll<number>().as('plays')])
    .where('user_id', 'is not', null)
    .groupBy('user_id')
    .orderBy('plays', 'desc')
    .orderBy('user_id')
    .limit(1)
    .executeTakeFirst();
  const activity = busiest?.user_id != null ? await userActivity(db, busiest.user_id) : undefined;
  const peak = hours.reduce((best, h) => (h.plays > best.plays ? h : best));
  console.log(JSON.stringify({ songs, artists, peakHour: peak, levels, busiest: activity }, null, 2));
} finally {
  await db.destroy();
}
