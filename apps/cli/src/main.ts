import { parseArgs } from 'node:util';
import { runDemo } from './demo.ts';

const usage = `usage: pushfleet <command> [options]

commands:
  demo [--count N] [--json] [--serve]   run a real fleet against the simulator and deliver N notifications
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: {
          count: { type: 'string', default: '10000' },
          json: { type: 'boolean', default: false },
          serve: { type: 'boolean', default: false },
          batch: { type: 'string', default: '1000' },
          parallel: { type: 'string', default: '4' },
        },
      });
      const count = Number(values.count);
      if (!Number.isInteger(count) || count < 1) throw new Error('--count must be a positive integer');
      return runDemo({
        count,
        json: values.json,
        serve: values.serve,
        batch: Math.min(1000, Number(values.batch)),
        parallel: Number(values.parallel),
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
    process.stderr.write(`\npushfleet: ${err.message}\n`);
    process.exit(1);
  },
);
