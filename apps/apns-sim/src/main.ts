/**
 * CLI entry: `npm run -s sim -- [flags]`. Prints exactly one JSON line to stdout when ready
 * (the contract process wrappers parse); everything else goes to stderr. SIGTERM/SIGINT stop it.
 */
import { parseArgs } from './config.ts';
import { startSimulator } from './start-simulator.ts';

async function main(): Promise<void> {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`apns-sim: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const sim = await startSimulator(options);
  const ready: Record<string, unknown> = {
    event: 'listening',
    port: sim.port,
    controlPort: sim.controlPort,
    channelPort: sim.channelPort,
    caFile: sim.caFile,
    environment: sim.environment,
  };
  if (sim.gatewayPort !== undefined) ready['gatewayPort'] = sim.gatewayPort;
  if (sim.feedbackPort !== undefined) ready['feedbackPort'] = sim.feedbackPort;
  process.stdout.write(`${JSON.stringify(ready)}\n`);

  const stop = (signal: string): void => {
    // A deadline, so a stuck client cannot keep the process alive after SIGTERM.
    const timer = setTimeout(() => process.exit(1), 5000);
    timer.unref();
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`apns-sim: close after ${signal} failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`apns-sim: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
