/**
 * How deny rules read arguments: every plausible file the argument may name.
 *
 * Deny rules are a backstop, so their matching is conservative: an argument
 * is denied when ANY of its readings matches. The readings exist for matching
 * only; the argv that is authorised, audited and sent to Kubernetes is always
 * exactly what the user typed (nothing here returns a rewritten argv).
 *
 * Readings of one argument:
 * - the argument as typed;
 * - an option's value: what follows the first `=` (`--file=/x`, `if=/x`), and
 *   from the first `/` of an argument starting with `-` (`-f/x`);
 * - each of those as a path, normalised lexically: `//` collapsed, `.`
 *   dropped, `..` removing the segment before it, a trailing `/` dropped;
 * - procfs aliases of an absolute path: `/proc/PID/root/REST` is the root of
 *   PID, i.e. `/REST` (the same mount namespace in a container);
 *   `/proc/PID/task/TID/REST` is `/proc/TID/REST` (and `/proc/PID/REST`);
 * - tails: segment lists whose starting directory is unknown. Lexical `..`
 *   is not what the kernel does when the segment before `..` is a symlink
 *   (`/proc/1/cwd/..` is the parent of pid 1's working directory, not
 *   `/proc/1`), so the part after the last `..` is also read as relative to
 *   an unknown directory; so is a relative path (the container's working
 *   directory is not known here), and what follows `/proc/PID/cwd`. An
 *   absolute deny pattern matches a tail when its last segments match it.
 */
import { globToRegExp, hasWildcard } from './glob.js';

/** What a deny pattern element is compared with for one argument. */
export interface ArgReadings {
  /** Whole strings tested against the pattern element (glob or literal). */
  readonly whole: readonly string[];
  /** Relative segment lists whose starting directory is unknown. */
  readonly tails: readonly (readonly string[])[];
}

/** Upper bound on procfs alias expansions per argument (nesting is not unbounded work). */
const MAX_ALIASES = 32;

interface LexicalPath {
  readonly absolute: boolean;
  /** Normalised segments; a relative path may start with `..` segments. */
  readonly segments: readonly string[];
  /** Segments after the last `..` that removed a segment (empty when none did). */
  readonly afterDotDot: readonly string[] | undefined;
}

/** Lexical normalisation (POSIX pathname resolution without looking at the file system). */
export function normalisePath(path: string): LexicalPath {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  let afterDotDot: string[] | undefined;
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') {
      continue;
    }
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') {
        out.pop();
        afterDotDot = [];
      } else if (!absolute) out.push('..');
      // `/..` is `/`.
      continue;
    }
    out.push(seg);
    afterDotDot?.push(seg);
  }
  return { absolute, segments: out, afterDotDot };
}

function joinPath(absolute: boolean, segments: readonly string[]): string {
  const body = segments.join('/');
  if (absolute) return `/${body}`;
  return body === '' ? '.' : body;
}

/** `/proc/PID/root|task|cwd` aliases of normalised absolute segments. */
function procAliases(start: readonly string[], whole: Set<string>, tails: (readonly string[])[]): void {
  const queue: (readonly string[])[] = [start];
  const seen = new Set<string>([start.join('/')]);
  const add = (segments: readonly string[]) => {
    const key = segments.join('/');
    if (seen.size >= MAX_ALIASES || seen.has(key)) return;
    seen.add(key);
    whole.add(joinPath(true, segments));
    queue.push(segments);
  };
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (next[0] !== 'proc' || next.length < 3) continue;
    const [, pid, kind] = next;
    const rest = next.slice(3);
    if (kind === 'root') add(rest);
    else if (kind === 'cwd' && rest.length > 0) tails.push(rest);
    else if (kind === 'task' && rest.length >= 1) {
      add(['proc', rest[0]!, ...rest.slice(1)]);
      add(['proc', pid!, ...rest.slice(1)]);
    }
  }
}

/** Option values an argument may carry (`--file=/x`, `if=/x`, `-f/x`). */
function optionValues(arg: string): string[] {
  const values: string[] = [];
  const eq = arg.indexOf('=');
  if (eq >= 0) values.push(arg.slice(eq + 1));
  if (arg.startsWith('-')) {
    const slash = arg.indexOf('/');
    if (slash > 0) values.push(arg.slice(slash));
  }
  return values;
}

/** Every reading of one argument (see the module comment). */
export function argReadings(arg: string): ArgReadings {
  const whole = new Set<string>([arg]);
  const tails: (readonly string[])[] = [];
  for (const value of [arg, ...optionValues(arg)]) {
    whole.add(value);
    const path = normalisePath(value);
    whole.add(joinPath(path.absolute, path.segments));
    if (path.afterDotDot && path.afterDotDot.length > 0) tails.push(path.afterDotDot);
    if (path.absolute) procAliases(path.segments, whole, tails);
    else {
      const inside = path.segments.filter((s) => s !== '..');
      if (inside.length > 0) tails.push(inside);
    }
  }
  // A tail may start at `/` too, so it may also be a procfs alias (`../proc/1/task/1/environ`).
  for (const tail of [...tails]) procAliases(tail, whole, tails);
  return { whole: [...whole], tails };
}

/** A deny pattern element compiled for {@link readingsMatch}. */
export interface DenyElement {
  readonly test: (value: string) => boolean;
  /** Segment tests of an absolute pattern (after lexical normalisation), for tails. */
  readonly segments: readonly ((value: string) => boolean)[] | undefined;
}

function tester(pattern: string): (value: string) => boolean {
  if (!hasWildcard(pattern)) return (value) => value === pattern;
  const re = globToRegExp(pattern);
  return (value) => re.test(value);
}

export function compileDenyElement(pattern: string): DenyElement {
  const path = pattern.startsWith('/') ? normalisePath(pattern) : undefined;
  const normalised = path ? joinPath(true, path.segments) : pattern;
  const raw = tester(pattern);
  const norm = normalised === pattern ? raw : tester(normalised);
  return {
    test: (value) => raw(value) || norm(value),
    segments: path?.segments.map(tester),
  };
}

/** True when one reading of the argument matches the deny pattern element. */
export function readingsMatch(element: DenyElement, readings: ArgReadings): boolean {
  if (readings.whole.some(element.test)) return true;
  const segs = element.segments;
  if (segs === undefined) return false;
  return readings.tails.some(
    (tail) => tail.length <= segs.length && tail.every((s, i) => segs[segs.length - tail.length + i]!(s)),
  );
}
