const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

let stopping: NodeJS.Signals | undefined;
let note = 'Stopped.';
let embeddedHome: string | undefined;

/** Whether a SIGINT/SIGTERM is being handled: errors raised by the work it cut short are not news. */
export const interrupted = () => stopping !== undefined;

/**
 * Whether the error says the server ended our connection. On a terminal, Ctrl-C reaches the embedded
 * server as well as this process, and the server's goodbye can arrive before Node runs our signal
 * handler.
 */
function serverWentAway(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return ['57P01', '57P02', '57P03'].includes(e?.code ?? '') || /Connection terminated unexpectedly/.test(e?.message ?? '');
}

/** Before reporting an error: if the server went away, give a pending Ctrl-C a moment to be handled first. */
export async function settle(error: unknown): Promise<void> {
  if (!serverWentAway(error)) return;
  await new Promise((r) => setTimeout(r, 1000));
  if (stopping) await new Promise(() => {}); // the interrupt handler ends the process
}

/** What to say if the command is interrupted (an ETL run says that nothing was published). */
export function setInterruptNote(text: string): void {
  note = text;
}

/** The embedded server's home while this process may own it, so an interrupt can stop it. */
export function setEmbeddedHome(home: string | undefined): void {
  embeddedHome = home;
}

/**
 * Ctrl-C and SIGTERM: say what happened in one line, leave the embedded server (stopping it if no
 * other process uses it)
 * (a fast shutdown: open transactions roll back, committed ones stay), and exit 130 or 143. The
 * connections the server then closes raise errors in the work still in flight; they are expected
 * and not printed.
 */
export function handleInterrupts(onError: (error: unknown) => void): void {
  // pg raises a connection the server closed as an 'error' event; nothing listens for it on a
  // connection in use, so it arrives here rather than at the awaiting code.
  process.on('uncaughtException', (error) => {
    if (stopping) return;
    void settle(error).then(() => onError(error));
  });
  for (const signal of Object.keys(EXIT_CODES) as (keyof typeof EXIT_CODES)[]) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = signal;
      process.on('unhandledRejection', () => {});
      process.stderr.write(`\nsparkify: interrupted (${signal}). ${note}\n`);
      // The server runs in a session of its own: a Ctrl-C here does not reach it, leaving does.
      const stopped = embeddedHome ? import('../db/embedded.js').then((m) => m.stopOwnServer(embeddedHome!)) : Promise.resolve();
      void stopped.catch(() => {}).finally(() => process.exit(EXIT_CODES[signal]));
    });
  }
}
