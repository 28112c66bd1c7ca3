/** The `--ttl` duration syntax of `airlock request` and the commands that take a lifetime. */

import { AirlockError } from '../../core/errors.js';

/** Parses `30m`, `1h`, `90s`, `1h30m` or plain seconds. */
export function parseTtl(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!match || text.trim() === '')
    throw new AirlockError('USAGE', `--ttl ${text} is not a duration like 30m, 1h or 900`);
  const seconds = Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
  if (seconds <= 0) throw new AirlockError('USAGE', '--ttl must be positive');
  return seconds;
}
