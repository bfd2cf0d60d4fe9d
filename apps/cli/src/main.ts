import { parseArgs } from 'node:util';
import { PushfleetApiError } from '@pushfleet/client';
import { appsCommand, appsUsage } from './commands/apps.ts';
import { campaignCommand } from './commands/campaign.ts';
import { broadcastCommand, channelsCommand } from './commands/channels.ts';
import { devicesCommand } from './commands/devices.ts';
import { keysCommand } from './commands/keys.ts';
import { liveCommand } from './commands/live.ts';
import { configCommand, queuesCommand } from './commands/ops.ts';
import { sendCommand } from './commands/send.ts';
import { UsageError } from './commands/shared.ts';
import { runDemo } from './demo.ts';

const usage = `usage: pushfleet <command> [options]

commands:
  send --app A (--token T… | --tokens-file F | --user U… | --tag X…) [--title/--body/--alert/--badge/--sound/
       --push-type/--priority/--data JSON | --notification JSON] [--send-at ISO] [--idempotency-key K] [--wait]
  campaign create --app A (--tokens-file FILE | --all | --tag X… | --user U…) [notification flags]
       [--name N] [--rate N] [--send-at ISO] [--no-wait]     live progress bar with rate and ETA until done
  campaign status|cancel ID --app A          campaign list --app A [--limit N]
  campaign report ID --app A [--format csv|ndjson]   tokens not delivered (outcome, reason, time), streamed to stdout
  live start|update|end --app A (--token T… | --activity ID… | --user U…) --state JSON [--title/--body]
       [start: --attributes-type T --attributes JSON (--channel NAME | --input-push-token)]
       [--stale-date S] [--dismissal-date S|now] [--timestamp S] [--wait]     (S: UNIX seconds, now, now+N)
  live register-start TOKEN --attributes-type T [--user U]   live register-activity ID --token T [--user U]
  channels create NAME [--policy 0|1] [--metadata JSON]      channels list|show NAME|delete NAME --app A
  broadcast CHANNEL --app A --state JSON [--end [--dismissal-date S]] [--wait]
  devices import FILE --app A                NDJSON {token,userId?,tags?,locale?,environment?} or a token per line
  queues [--config FILE]                     depth of every queue by state (reads Redis from the config)
  keys hash [--key K] [--scrypt] [--id ID] [--apps a,b] [--permissions send,read]
  config check [FILE]                        validate a config file and print it redacted
  ${appsUsage}
  demo [--count N] [--json] [--serve]        run a real fleet against the simulator and deliver N notifications
       [--observe]                           …with Prometheus scraping it through injected incidents; prints each
                                             dashboard panel's data and the Prometheus URL (needs the prometheus binary)

connection: --url (PF_URL, default http://127.0.0.1:8080), --key (PF_API_KEY), --app (PF_APP)
output: human by default, --json for scripts. Exit codes: 0 ok, 1 error, 2 usage, 3 finished but not all delivered.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = process.env;
  switch (command) {
    case 'send':
      return sendCommand(rest, env);
    case 'campaign':
      return campaignCommand(rest, env);
    case 'devices':
      return devicesCommand(rest, env);
    case 'live':
      return liveCommand(rest, env);
    case 'channels':
      return channelsCommand(rest, env);
    case 'broadcast':
      return broadcastCommand(rest, env);
    case 'apps':
      return appsCommand(rest, env);
    case 'queues':
      return queuesCommand(rest, env);
    case 'keys':
      return keysCommand(rest);
    case 'config':
      return configCommand(rest, env);
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: {
          count: { type: 'string', default: '10000' },
          json: { type: 'boolean', default: false },
          serve: { type: 'boolean', default: false },
          observe: { type: 'boolean', default: false },
        },
      });
      const count = Number(values.count);
      if (!Number.isInteger(count) || count < 1) throw new UsageError('--count must be a positive integer');
      return runDemo({
        count,
        json: values.json,
        serve: values.serve,
        observe: values.observe,
      });
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(usage);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`pushfleet: ${err.message}\n`);
      process.exit(2);
    }
    const detail = err instanceof PushfleetApiError ? ` (HTTP ${err.status})` : '';
    process.stderr.write(`\npushfleet: ${err.message}${detail}\n`);
    process.exit(1);
  },
);
