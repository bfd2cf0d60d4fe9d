import { parseArgs } from 'node:util';
import type { DeviceImportLine } from '@pushfleet/client';
import { createOutput } from './output.ts';
import { appFrom, clientFrom, connectionOptions, fileLines, UsageError } from './shared.ts';

/** One device per line: NDJSON `{token, userId?, tags?, locale?, environment?}` or a bare token. */
async function* devicesFromFile(path: string): AsyncGenerator<DeviceImportLine> {
  for await (const line of fileLines(path)) {
    yield line.startsWith('{') ? (JSON.parse(line) as DeviceImportLine) : { token: line };
  }
}

export async function devicesCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: connectionOptions,
  });
  const out = createOutput(values.json);
  if (sub !== 'import' || !positionals[0]) throw new UsageError('devices import FILE');
  const file = positionals[0];
  const started = Date.now();
  const result = await clientFrom(values, env).importDevices(appFrom(values, env), () =>
    devicesFromFile(file),
  );
  const seconds = (Date.now() - started) / 1000;
  out.result(`imported ${result.imported} devices in ${seconds.toFixed(1)}s`, { ...result, seconds });
  return 0;
}
