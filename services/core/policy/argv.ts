/**
 * Argv patterns and the built-in argv guard.
 *
 * Commands are argv arrays end to end; nothing here ever joins or splits a
 * command line. An argv pattern is an array whose elements are literals or
 * globs (`*`, `?`; see glob.ts), optionally ending in `"..."` (any further
 * arguments). Allow-rule argv[0] must be literal (validate.ts enforces it).
 *
 * Unicode: no NFKC or other normalisation is applied. The kernel executes the
 * exact bytes it is given, so comparing a normalised form would make the
 * check disagree with what runs (fullwidth `ｓｈ` would "equal" `sh` in the
 * policy while exec would look up a different file). Instead argv[0] must be
 * printable ASCII, and every argument is refused if it contains control,
 * format (zero-width, bidi), surrogate, private-use, unassigned or line/
 * paragraph separator code points. Literal patterns compare code points
 * exactly, so a look-alike never matches a literal and fails closed.
 */

import {
  type ArgReadings,
  argReadings,
  compileDenyElement,
  type DenyElement,
  readingsMatch,
} from './deny-readings.js';
import { globToRegExp, hasWildcard } from './glob.js';
import escapes from './shell-escapes.json' with { type: 'json' };
import { ANY_FURTHER_ARGS } from './types.js';

/** Hard caps applied before any rule is consulted. */
export const ARGV_LIMITS = {
  maxArgs: 256,
  /** Per argument, in UTF-8 bytes. */
  maxArgBytes: 4096,
  /** All arguments together, in UTF-8 bytes. */
  maxTotalBytes: 65_536,
} as const;

interface EscapeBinary {
  readonly categories: readonly string[];
  readonly dangerousArgs?: readonly string[];
}

const INTERPRETERS: ReadonlySet<string> = new Set(escapes.interpreters);
const COMMAND_RUNNERS: ReadonlySet<string> = new Set(escapes.commandRunners);
const BINARIES: ReadonlyMap<string, EscapeBinary> = new Map(
  Object.entries(escapes.binaries as Record<string, EscapeBinary>),
);

/** Basename of a path (`/usr/bin/ps` → `ps`). */
export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Name used for the curated lists: basename without a version suffix (`python3.11` → `python`). */
export function commandName(arg0: string): string {
  const base = basename(arg0);
  const stripped = base.replace(/[0-9][0-9.]*$/, '');
  return stripped === '' ? base : stripped;
}

export function isInterpreter(arg0: string): boolean {
  return INTERPRETERS.has(commandName(arg0)) || INTERPRETERS.has(basename(arg0));
}

export function isCommandRunner(arg0: string): boolean {
  return COMMAND_RUNNERS.has(commandName(arg0)) || COMMAND_RUNNERS.has(basename(arg0));
}

/** GTFOBins-style categories of a binary (`shell`, `command`, `file-write`, `file-read`), if listed. */
export function escapeCategories(arg0: string): readonly string[] {
  const name = commandName(arg0);
  if (INTERPRETERS.has(name)) return ['shell', 'command'];
  if (COMMAND_RUNNERS.has(name)) return ['command'];
  return BINARIES.get(name)?.categories ?? BINARIES.get(basename(arg0))?.categories ?? [];
}

type CompiledArg = { readonly literal: string } | { readonly glob: RegExp };

export interface CompiledPattern {
  readonly source: readonly string[];
  readonly arg0: string;
  readonly arg0Glob: RegExp | undefined;
  /** Basename of argv[0] and its glob, for deny rules. */
  readonly arg0Base: string;
  readonly arg0BaseGlob: RegExp | undefined;
  readonly arg0IsBare: boolean;
  readonly args: readonly CompiledArg[];
  /** Ends in `"..."`. */
  readonly rest: boolean;
  /** The arguments as deny elements (normalised path matching, see deny-readings.ts). */
  readonly denyArgs: readonly DenyElement[];
}

export function compilePattern(argv: readonly string[]): CompiledPattern {
  const rest = argv.length > 0 && argv[argv.length - 1] === ANY_FURTHER_ARGS;
  const fixed = rest ? argv.slice(0, -1) : argv;
  const arg0 = fixed[0] ?? '';
  return {
    source: argv,
    arg0,
    arg0Glob: hasWildcard(arg0) ? globToRegExp(arg0) : undefined,
    arg0Base: basename(arg0),
    arg0BaseGlob: hasWildcard(basename(arg0)) ? globToRegExp(basename(arg0)) : undefined,
    arg0IsBare: !arg0.includes('/'),
    args: fixed.slice(1).map((a) => (hasWildcard(a) ? { glob: globToRegExp(a) } : { literal: a })),
    rest,
    denyArgs: fixed.slice(1).map(compileDenyElement),
  };
}

/** Which argv positions were matched by a wildcard or by `"..."` (not by a literal). */
export interface PatternMatch {
  readonly wildcardIndexes: readonly number[];
}

const NO_WILDCARDS: PatternMatch = { wildcardIndexes: [] };

function hasDotDotSegment(value: string): boolean {
  return value === '..' || value.startsWith('../') || value.endsWith('/..') || value.includes('/../');
}

/**
 * Matches argv against an allow pattern: argv[0] equals the pattern's argv[0]
 * (with `matchBasename`, an absolute argv[0] also matches a bare pattern name
 * by basename), one argument per element, literals exactly, globs without a
 * `..` segment.
 */
export function matchPattern(
  pattern: CompiledPattern,
  argv: readonly string[],
  matchBasename: boolean,
): PatternMatch | undefined {
  const n = pattern.args.length + 1;
  if (pattern.rest ? argv.length < n : argv.length !== n) return undefined;
  const a0 = argv[0] ?? '';
  if (a0 !== pattern.arg0) {
    if (!(matchBasename && pattern.arg0IsBare && a0.startsWith('/') && basename(a0) === pattern.arg0)) {
      return undefined;
    }
  }
  let wild: number[] | undefined;
  for (let i = 1; i < n; i++) {
    const p = pattern.args[i - 1]!;
    const v = argv[i]!;
    if ('literal' in p) {
      if (v !== p.literal) return undefined;
    } else {
      if (!p.glob.test(v) || hasDotDotSegment(v)) return undefined;
      if (wild === undefined) wild = [];
      wild.push(i);
    }
  }
  if (pattern.rest && argv.length > n) {
    wild ??= [];
    for (let i = n; i < argv.length; i++) wild.push(i);
  }
  return wild ? { wildcardIndexes: wild } : NO_WILDCARDS;
}

/** An argv prepared once for all deny rules of a profile. */
export interface DenyView {
  readonly argv: readonly string[];
  /** Readings of argv[1..] (index 0 is argv[1]). */
  readonly readings: readonly ArgReadings[];
  /** Letters of every short-option argument (`-la` gives l and a), for bundled-flag deny elements. */
  readonly shortFlags: ReadonlySet<string>;
}

const SHORT_OPTIONS = /^-[A-Za-z]+$/;

export function denyView(argv: readonly string[]): DenyView {
  const args = argv.slice(1);
  const shortFlags = new Set<string>();
  for (const a of args) {
    if (a.startsWith('-') && !a.startsWith('--')) {
      // getopt bundles: every letter before the first non-letter may be an option (`-n5` is n).
      for (const ch of /^[A-Za-z]*/.exec(a.slice(1))?.[0] ?? '') shortFlags.add(ch);
    }
  }
  let readings: readonly ArgReadings[] | undefined;
  return {
    argv,
    // Computed on first use: profiles without deny rules pay nothing.
    get readings() {
      readings ??= args.map(argReadings);
      return readings;
    },
    shortFlags,
  };
}

/**
 * Matches argv against a deny pattern, broadly (deny broadly, allow narrowly):
 * - argv[0] matches, or the basenames of argv[0] and of the pattern's argv[0]
 *   match (globs allowed), so a deny rule for `sh` or `/bin/sh` catches `sh`,
 *   `/bin/sh` and `/usr/bin/sh` whatever `matchBasename` says;
 * - every further element matches SOME argument, in any position and
 *   whatever the argument count (`cat a /proc/1/environ`, `cat -- …`), by
 *   any of the argument's readings (normalised paths, procfs aliases, option
 *   values: deny-readings.ts); a trailing `"..."` adds nothing;
 * - a literal short-option element (`-rf`) also matches when each of its
 *   letters is given in some short-option argument (`-r -f`, `-fr`).
 */
export function matchDeny(pattern: CompiledPattern, view: DenyView): boolean {
  const a0 = view.argv[0] ?? '';
  const re = pattern.arg0Glob;
  const baseRe = pattern.arg0BaseGlob;
  const base = basename(a0);
  const arg0 =
    (re ? re.test(a0) : a0 === pattern.arg0) || (baseRe ? baseRe.test(base) : base === pattern.arg0Base);
  if (!arg0) return false;
  return pattern.denyArgs.every((element, i) => {
    if (view.readings.some((r) => readingsMatch(element, r))) return true;
    const p = pattern.args[i]!;
    return (
      'literal' in p &&
      SHORT_OPTIONS.test(p.literal) &&
      [...p.literal.slice(1)].every((ch) => view.shortFlags.has(ch))
    );
  });
}

export interface ArgvViolation {
  readonly rule: string;
  readonly reason: string;
}

// Cc control, Cf format (zero-width, bidi overrides), Cs lone surrogates,
// Co private use, Cn unassigned, Zl/Zp line and paragraph separators.
const FORBIDDEN_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;
const PRINTABLE_ASCII_NO_SPACE = /^[\x21-\x7e]+$/;

function utf8Length(s: string): number {
  // Fast path: every UTF-16 unit is at most 3 UTF-8 bytes.
  return s.length * 3 <= ARGV_LIMITS.maxArgBytes ? s.length : Buffer.byteLength(s, 'utf8');
}

/**
 * The checks every argv passes before any rule is consulted. Returns the
 * first violation, or undefined when argv is well-formed.
 */
export function checkArgvShape(argv: readonly unknown[]): ArgvViolation | undefined {
  if (argv.length === 0) return { rule: 'builtin:empty-argv', reason: 'empty argv' };
  if (argv.length > ARGV_LIMITS.maxArgs) {
    return { rule: 'builtin:argv-too-long', reason: `more than ${ARGV_LIMITS.maxArgs} arguments` };
  }
  let total = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (typeof arg !== 'string')
      return { rule: 'builtin:argv-type', reason: `argument ${i} is not a string` };
    const len = utf8Length(arg);
    if (len > ARGV_LIMITS.maxArgBytes) {
      return {
        rule: 'builtin:arg-too-long',
        reason: `argument ${i} is longer than ${ARGV_LIMITS.maxArgBytes} bytes`,
      };
    }
    total += len;
    if (FORBIDDEN_CHARS.test(arg)) {
      return {
        rule: 'builtin:forbidden-character',
        reason: `argument ${i} contains a NUL, control, format or unassigned character`,
      };
    }
  }
  if (total > ARGV_LIMITS.maxTotalBytes) {
    return {
      rule: 'builtin:argv-too-long',
      reason: `argv is longer than ${ARGV_LIMITS.maxTotalBytes} bytes`,
    };
  }
  const a0 = argv[0] as string;
  if (!PRINTABLE_ASCII_NO_SPACE.test(a0)) {
    return { rule: 'builtin:argv0-not-ascii', reason: 'argv[0] must be printable ASCII without spaces' };
  }
  if (a0.startsWith('-')) return { rule: 'builtin:argv0-option', reason: 'argv[0] starts with "-"' };
  if (a0.includes('/')) {
    const segments = a0.split('/');
    const clean =
      a0.startsWith('/') &&
      !a0.endsWith('/') &&
      segments.slice(1).every((s) => s !== '' && s !== '.' && s !== '..');
    if (!clean) {
      return {
        rule: 'builtin:argv0-path',
        reason: 'argv[0] must be a bare name or a clean absolute path (no "//", ".", "..", trailing "/")',
      };
    }
  }
  return undefined;
}

const TOKEN_SPLIT = /[\s=:;,|&`'"()<>$]+/;

/**
 * Checks made after an allow rule matched, on the arguments the rule left to
 * a wildcard: wrappers that run their arguments (`env`, `xargs`, `timeout`,
 * interpreters) may not take wildcard arguments at all; no wildcard argument
 * may name a shell or interpreter (`strace sh`, `--shell=/bin/sh`); and the
 * per-binary dangerous options (`find -exec`, `tar --to-command`) are refused.
 */
export function checkWildcardArgs(argv: readonly string[], match: PatternMatch): ArgvViolation | undefined {
  if (match.wildcardIndexes.length === 0) return undefined;
  const a0 = argv[0]!;
  if (isCommandRunner(a0) || isInterpreter(a0)) {
    return {
      rule: 'builtin:runner-wildcard-args',
      reason: `${basename(a0)} runs its arguments as a command; a rule for it may not leave arguments to a wildcard`,
    };
  }
  const dangerous = BINARIES.get(commandName(a0))?.dangerousArgs ?? BINARIES.get(basename(a0))?.dangerousArgs;
  for (const i of match.wildcardIndexes) {
    const arg = argv[i]!;
    for (const token of arg.split(TOKEN_SPLIT)) {
      if (token !== '' && isInterpreter(token)) {
        return {
          rule: 'builtin:interpreter-in-argument',
          reason: `argument ${i} names a shell or interpreter (${basename(token)})`,
        };
      }
    }
    if (dangerous && isDangerousArg(arg, dangerous)) {
      return {
        rule: 'builtin:dangerous-option',
        reason: `argument ${i} (${JSON.stringify(arg)}) lets ${basename(a0)} run commands or write files`,
      };
    }
  }
  return undefined;
}

function isDangerousArg(arg: string, dangerous: readonly string[]): boolean {
  for (const d of dangerous) {
    if (arg === d || arg.startsWith(`${d}=`)) return true;
    // `-o` also catches `-ofile` and bundles such as `-so`.
    if (/^-[A-Za-z]$/.test(d) && /^-[A-Za-z0-9]/.test(arg) && !arg.startsWith('--')) {
      // getopt bundles: any option letter before the first non-letter may be d (`-so/tmp/x`).
      const letters = /^[A-Za-z]*/.exec(arg.slice(1))?.[0] ?? '';
      if (letters.includes(d[1]!)) return true;
    }
  }
  return false;
}
