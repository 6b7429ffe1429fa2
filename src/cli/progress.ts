import cliProgress from 'cli-progress';
import type { Progress } from '../etl/pipeline.js';

/** Progress on stderr: a byte bar on a terminal, one plain line per phase otherwise. */
export function consoleProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { phase() {}, advance() {}, done() {} };
  let bar: cliProgress.SingleBar | undefined;
  let bytesDone = 0;
  return {
    phase(name, totalBytes) {
      bar?.stop();
      bar = undefined;
      if (totalBytes !== undefined && stream.isTTY) {
        bar = new cliProgress.SingleBar(
          { stream, format: `${name} [{bar}] {percentage}% | {value}/{total} MB | {eta}s left`, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(1, Math.round(totalBytes / 1e6)), 0);
        bytesDone = 0;
      } else {
        stream.write(`${name}…\n`);
      }
    },
    advance(bytes) {
      bytesDone += bytes;
      bar?.update(Math.round(bytesDone / 1e6));
    },
    done() {
      bar?.stop();
      bar = undefined;
    },
  };
}
