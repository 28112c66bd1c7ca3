/**
 * What every broker client command shares: the io it touches (output,
 * files, time), the connection options, and the `--output` format.
 */

import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../../core/errors.js';

/** What the commands touch: output, files, time. Tests pass their own. */
export interface BrokerClientIo {
  out(text: string): void;
  err(text: string): void;
  /** Directory of token.json; default `$XDG_CONFIG_HOME/airlock` or `~/.config/airlock`. */
  readonly configDir: string;
  readonly homeDir: string;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Opens a URL in the person's browser (`airlock login --open-browser`); absent: not possible. */
  openBrowser?(url: string): void;
}

/** The real process. */
export function processBrokerClientIo(): BrokerClientIo {
  const home = homedir();
  const base = process.env.XDG_CONFIG_HOME || join(home, '.config');
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    configDir: process.env.AIRLOCK_CONFIG_DIR || join(base, 'airlock'),
    homeDir: home,
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    openBrowser: (url) => {
      // No shell: the URL is one argument. A missing opener only means the person opens it.
      const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
      const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
      child.on('error', () => process.stderr.write(`(could not run ${opener}; open the URL yourself)\n`));
      child.unref();
    },
  };
}

/** Connection options every command takes. */
export interface ConnectionOptions {
  readonly broker?: string;
  readonly ca?: string;
}

/** `-o, --output`: text for people, or one JSON document on stdout for scripts. */
export type OutputFormat = 'text' | 'json';

/** The output option every command takes. */
export interface OutputOptions {
  /** Default `text`. */
  readonly output?: OutputFormat;
}

/** What a command that calls the broker takes: the connection options and `--output`. */
export interface BrokerCallOptions extends ConnectionOptions, OutputOptions {}

/** Checks an `--output` value; anything but `text` or `json` is a USAGE error. */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new AirlockError('USAGE', `--output ${value} is not one of text, json`);
}

export function printJson(io: BrokerClientIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

export function expandHome(path: string, io: BrokerClientIo): string {
  return path === '~' || path.startsWith('~/') ? join(io.homeDir, path.slice(1)) : path;
}
