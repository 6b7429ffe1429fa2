import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { formatRate } from '../queries/index.js';
import type { ReportData } from './data.js';

/** Chart.js's browser build, inlined so that the page needs no network. */
function chartJs(): string {
  const entry = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(path.join(path.dirname(entry), 'chart.umd.min.js'), 'utf8');
}

/** Text for HTML. */
function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON or script inside a <script> element: nothing in it may close the element. */
const inScript = (text: string) => text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The page's charts: one canvas each, drawn by Chart.js from the embedded data. */
const CHARTS = `
const data = JSON.parse(document.getElementById('report-data').textContent);
const day = (d) => d.year + '-' + String(d.month).padStart(2, '0') + '-' + String(d.day).padStart(2, '0');
const weekdays = ${JSON.stringify(WEEKDAYS)};
const bar = (id, labels, values, label, horizontal) => new Chart(document.getElementById(id), {
  type: 'bar',
  data: { labels, datasets: [{ label, data: values, backgroundColor: '#3b6ea5' }] },
  options: {
    animation: false, indexAxis: horizontal ? 'y' : 'x', plugins: { legend: { display: false } }, responsive: true, maintainAspectRatio: false,
    // Long song names are cut on the axis only; the tooltip and the table show them whole.
    scales: horizontal ? { y: { ticks: { callback(v) { const l = this.getLabelForValue(v); return l.length > 42 ? l.slice(0, 41) + '…' : l; } } } } : {},
  },
});
const line = (id, labels, values, label) => new Chart(document.getElementById(id), {
  type: 'line',
  data: { labels, datasets: [{ label, data: values, borderColor: '#3b6ea5', pointRadius: 2 }] },
  options: { animation: false, plugins: { legend: { display: false } }, responsive: true, maintainAspectRatio: false },
});
line('chart-by-day', data.byDay.map(day), data.byDay.map((d) => d.plays), 'plays');
bar('chart-by-hour', data.byHour.map((h) => String(h.hour)), data.byHour.map((h) => h.plays), 'plays');
bar('chart-by-weekday', data.byWeekday.map((w) => weekdays[w.weekday]), data.byWeekday.map((w) => w.plays), 'plays');
bar('chart-top-songs', data.topSongs.map((s) => s.title + ' — ' + s.artist_name), data.topSongs.map((s) => s.plays), 'plays', true);
bar('chart-top-artists', data.topArtists.map((a) => a.name), data.topArtists.map((a) => a.plays), 'plays', true);
new Chart(document.getElementById('chart-levels'), {
  type: 'doughnut',
  data: { labels: data.levels.map((l) => l.level), datasets: [{ data: data.levels.map((l) => l.plays), backgroundColor: ['#3b6ea5', '#e0a030', '#999'] }] },
  options: { animation: false, responsive: true, maintainAspectRatio: false },
});
line('chart-active-users', data.activeUsers.map(day), data.activeUsers.map((d) => d.users), 'users');
document.body.dataset.rendered = 'true';
`;

/** One self-contained HTML page (styles, Chart.js and data inlined) showing what users listen to. */
export function reportHtml(data: ReportData): string {
  const plays = data.catalogue.plays;
  const figure = (name: string, value: unknown, label: string) => `<div class="figure"><b data-figure="${name}">${esc(value)}</b><span>${esc(label)}</span></div>`;
  const matched = (id: string | null) => (id ? '<span class="match" title="matched to the song catalogue">catalogue</span>' : '');
  const songRows = data.topSongs
    .map((s, i) => `<tr><td>${i + 1}</td><td>${esc(s.title)}</td><td>${esc(s.artist_name)}</td><td class="n">${s.plays}</td><td>${matched(s.song_id)}</td></tr>`)
    .join('');
  const artistRows = data.topArtists.map((a, i) => `<tr><td>${i + 1}</td><td>${esc(a.name)}</td><td class="n">${a.plays}</td><td>${matched(a.artist_id)}</td></tr>`).join('');
  const levelRows = data.levels.map((l) => `<tr><td>${esc(l.level)}</td><td class="n">${l.plays}</td><td class="n">${l.users}</td></tr>`).join('');
  const upgradeRows = data.upgraded
    .map((u) => `<tr><td>${u.user_id}</td><td>${esc(`${u.first_name ?? ''} ${u.last_name ?? ''}`.trim())}</td><td>${esc(new Date(u.upgraded_at).toISOString().slice(0, 16).replace('T', ' '))}</td></tr>`)
    .join('');
  const runRows = data.health.runs
    .map((r) => `<tr><td>${esc(new Date(r.started_at).toISOString().slice(0, 19).replace('T', ' '))}</td><td>${esc(r.status)}</td><td class="n">${r.staged ?? ''}</td><td class="n">${r.rejected ?? ''}</td><td>${esc(r.error ?? '')}</td></tr>`)
    .join('');
  // Instants in UTC, a midnight as its date; `to` is not included, as the helpers take it.
  const at = (iso: string) => `${iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`} UTC`;
  const { from, to } = data.period;
  const period = from || to ? `${from ? `from ${at(from)}` : 'from the first play'} ${to ? `up to ${at(to)}, not included` : 'to the last'}` : 'all plays';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sparkify: what users listen to</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.sub { color: #666; margin-bottom: 16px; }
.figures { display: flex; gap: 16px; flex-wrap: wrap; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 140px; }
.figure b { display: block; font-size: 22px; } .figure span { color: #666; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
.chart { position: relative; height: 260px; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.match { background: #e6f0fa; color: #3b6ea5; border-radius: 4px; padding: 0 4px; font-size: 12px; }
.warn { color: #a05a00; }
</style>
</head>
<body>
<h1>Sparkify: what users listen to</h1>
<div class="sub">Period: ${esc(period)} · generated ${esc(data.generatedAt)}</div>
<div class="figures">
${figure('plays', plays, 'plays')}
${figure('listeners', data.listeners, 'users who played a song')}
${figure('match-rate', formatRate(data.catalogue.rate), `of plays matched to the song catalogue (${data.catalogue.matched} of ${plays})`)}
${figure('upgraded', data.upgraded.length, 'users who upgraded from free to paid')}
${figure('rejected', data.health.rejectedRecords, 'rejected records in load_errors')}
</div>
${plays ? '' : '<p class="warn">No plays in this period.</p>'}
${data.catalogue.plays && data.catalogue.rate < 0.5 ? `<p class="warn">Most plays match no song in the catalogue: the rankings below count songs and artists as played.</p>` : ''}
<div class="grid">
<section><h2>Plays per day</h2><div class="chart"><canvas id="chart-by-day"></canvas></div></section>
<section><h2>Daily listeners (users who played a song)</h2><div class="chart"><canvas id="chart-active-users"></canvas></div></section>
<section><h2>Plays per hour (UTC)</h2><div class="chart"><canvas id="chart-by-hour"></canvas></div></section>
<section><h2>Plays per weekday</h2><div class="chart"><canvas id="chart-by-weekday"></canvas></div></section>
<section><h2>Top songs as played</h2><div class="chart"><canvas id="chart-top-songs"></canvas></div>
<table id="top-songs"><tr><th>#</th><th>song</th><th>artist</th><th>plays</th><th></th></tr>${songRows}</table></section>
<section><h2>Top artists as played</h2><div class="chart"><canvas id="chart-top-artists"></canvas></div>
<table id="top-artists"><tr><th>#</th><th>artist</th><th>plays</th><th></th></tr>${artistRows}</table></section>
<section><h2>Free and paid</h2><div class="chart"><canvas id="chart-levels"></canvas></div>
<table id="levels"><tr><th>level</th><th>plays</th><th>users</th></tr>${levelRows}</table></section>
<section><h2>Users who upgraded</h2><table id="upgraded"><tr><th>user</th><th>name</th><th>first paid play</th></tr>${upgradeRows}</table></section>
</div>
<h2>Warehouse health: last runs</h2>
<table id="runs"><tr><th>started (UTC)</th><th>status</th><th>staged</th><th>rejected</th><th>error</th></tr>${runRows}</table>
<script id="report-data" type="application/json">${inScript(JSON.stringify(data))}</script>
<script>${inScript(chartJs())}</script>
<script>${inScript(CHARTS)}</script>
</body>
</html>
`;
}
