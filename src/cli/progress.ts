import cliProgress from 'cli-progress';
import type { Progress } from '../etl/pipeline.js';

/**
 * The bar's template for one frame. cli-progress fills `{eta}` with the text NULL or INF until it
 * has a rate, so the estimate is shown only once it is a number.
 */
export function barTemplate(name: string, eta: unknown): string {
  const known = typeof eta === 'number' && Number.isFinite(eta) && eta > 0;
  return `${name} [{bar}] {percentage}% | {value}/{total} MB${known ? ' | {eta}s left' : ''}`;
}

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
          {
            stream,
            format: (options, params, payload) => cliProgress.Format.Formatter({ ...options, format: barTemplate(name, params.eta) }, params, payload),
            hideCursor: true,
          },
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
