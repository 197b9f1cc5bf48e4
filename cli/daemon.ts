// Running a daemon in the foreground: start it, and on SIGTERM or SIGINT stop it cleanly (drain) once;
// a second signal skips the drain.
export interface Daemon {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function runUntilSignalled(daemons: Daemon[], onStopping?: () => void): Promise<void> {
  for (const d of daemons) await d.start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`taskerman: ${sig} again: exiting without draining\n`);
        process.exit(130);
      }
      stopping = true;
      onStopping?.();
      void Promise.allSettled(daemons.map((d) => d.stop())).then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
