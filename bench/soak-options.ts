import { parseArgs } from 'node:util';

interface Options {
  sessions: number;
  durationMs: number;
  thinkMs: number;
}

/** `30`, `30s`, `3m` → milliseconds. */
function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text);
  if (!match) throw new Error(`--duration: expected seconds such as 180, 30s or 3m, got ${text}`);
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

const HELP = `Usage: npm run soak -- [--sessions N] [--duration D] [--think-ms MS]

Starts the local stack (hermetic cluster, executor, a load-sized mediator),
holds N concurrent SSH sessions (real OpenSSH, one ControlMaster each) for
D, each running random allowed and denied commands with up to MS of pause
between them, then checks the outcomes, both tiers' audit trails and the
tiers' memory. Writes bench/results/soak-<timestamp>.json; exit status 1 if
a check failed.

  --sessions N    concurrent sessions (default 200)
  --duration D    how long, e.g. 180, 30s, 3m (default 3m)
  --think-ms MS   maximum pause between a session's commands (default 1000)
`;

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sessions: { type: 'string', default: '200' },
      duration: { type: 'string', default: '3m' },
      'think-ms': { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const sessions = Number(values.sessions);
  const thinkMs = Number(values['think-ms']);
  if (!Number.isInteger(sessions) || sessions < 1) throw new Error('--sessions: a positive integer');
  if (!Number.isInteger(thinkMs) || thinkMs < 0) throw new Error('--think-ms: a non-negative integer');
  return { sessions, durationMs: parseDuration(values.duration), thinkMs };
}
