// Issue #13's targets, judged on the bench's own measurements: ratios within one run (the issue
// meant them to hold on any machine; the README shows a machine where they do not) and peak RSS.

/** What the bench measured of one size on one setting in one run (its --json keys). */
export interface EtlMeasurement {
  events: number;
  settings: string;
  total_vs_raw_copy: number;
  stage_vs_raw_copy: number;
  incremental_vs_full: number;
  peak_rss_mb: number;
}

/** One memory-in-files measurement. */
export interface MemoryMeasurement {
  run: number;
  song_files: number;
  peak_rss_mb: number;
}

/** A target and how many of the runs that measured it met it. */
export interface TargetResult {
  target: string;
  settings: string;
  values: number[];
  met: number;
  /** Whether one value meets the target. */
  meets: (value: number) => boolean;
  /** How a value reads (a share as a percentage). */
  show: (value: number) => string;
}

const ratio = (v: number) => v.toFixed(2);
const percent = (v: number) => `${(v * 100).toFixed(1)}%`;
const megabytes = (v: number) => `${Math.round(v)} MB`;

/** The size the ETL targets are set at. */
const MILLION = 1_000_000;

const ETL_TARGETS: { target: string; value: (m: EtlMeasurement) => number; meets: (v: number) => boolean; show: (v: number) => string }[] = [
  { target: 'full ETL ≤ 5 × raw COPY', value: (m) => m.total_vs_raw_copy, meets: (v) => v <= 5, show: ratio },
  { target: 'find + stage ≥ 0.5 × raw COPY', value: (m) => m.stage_vs_raw_copy, meets: (v) => v >= 0.5, show: ratio },
  { target: 'incremental day ≤ 5% of the full run', value: (m) => m.incremental_vs_full, meets: (v) => v <= 0.05, show: percent },
  { target: 'peak RSS ≤ 300 MB', value: (m) => m.peak_rss_mb, meets: (v) => v <= 300, show: megabytes },
];

/**
 * Judges the targets: those of the ETL at 1M events, per server setting, and memory flat in files
 * (100,000 song files' peak within 15% of 1,000 files' in the same run). A target nothing measured is left out.
 */
export function judgeTargets(etl: EtlMeasurement[], memory: MemoryMeasurement[]): TargetResult[] {
  const results: TargetResult[] = [];
  const atMillion = etl.filter((m) => m.events === MILLION);
  for (const settings of [...new Set(atMillion.map((m) => m.settings))]) {
    const runs = atMillion.filter((m) => m.settings === settings);
    for (const { target, value, meets, show } of ETL_TARGETS) {
      const values = runs.map(value);
      results.push({ target: `${target} (1M events)`, settings, values, met: values.filter(meets).length, meets, show });
    }
  }
  const ratios: number[] = [];
  for (const run of [...new Set(memory.map((m) => m.run))]) {
    const peak = (files: number) => memory.find((m) => m.run === run && m.song_files === files)?.peak_rss_mb;
    const [few, many] = [peak(1000), peak(100_000)];
    if (few !== undefined && many !== undefined) ratios.push(many / few);
  }
  const flat = (r: number) => r <= 1.15;
  if (ratios.length) results.push({ target: 'peak RSS, 100,000 song files ÷ 1,000, ≤ 1.15', settings: 'tuned', values: ratios, met: ratios.filter(flat).length, meets: flat, show: ratio });
  return results;
}
