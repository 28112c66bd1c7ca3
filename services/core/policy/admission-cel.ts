/**
 * A profile's command rules as one CEL expression over `argv` (a list of
 * strings), for the ValidatingAdmissionPolicies of admission-render.ts.
 *
 * The expression reproduces `authorizeArgv` (argv.ts, authorize.ts) where
 * CEL can, and is stricter where it cannot: every argv the expression admits
 * is admitted by `authorizeArgv` too (test/integration/admission-policy.test.ts
 * checks both directions on the real API server). The differences, all
 * "refuse rather than allow", are listed in docs/admission.md:
 * - a character is accepted only if Go's Unicode tables assign it to a letter,
 *   mark, number, punctuation, symbol or space-separator category (the TS
 *   guard refuses control, format, surrogate, private-use, unassigned and
 *   line/paragraph separators by Node's tables);
 * - deny rules: an argument that is a clean absolute path (no `..`, no `proc`
 *   segment, no `=`) is matched exactly as deny-readings.ts does; any other
 *   argument is refused when one of its `/`-pieces (or the part of a piece
 *   after its first `=`) matches the last piece of the deny pattern, which
 *   covers every reading deny-readings.ts derives (normalised paths, procfs
 *   aliases, tails, option values) and more.
 *
 * Needs Kubernetes >= 1.32 (two-variable comprehensions, `exists(i, a, …)`).
 * Pure: no I/O, deterministic output.
 */
import { basename, commandName, compilePattern, isCommandRunner, isInterpreter } from './argv.js';
import { globToRegExp, hasWildcard } from './glob.js';
import escapes from './shell-escapes.json' with { type: 'json' };
import { ANY_FURTHER_ARGS, type CommandRules } from './types.js';

/** A CEL string literal (double-quoted; backslash, quote and non-printable ASCII escaped). */
export function celString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A CEL list literal of strings. */
export function celStringList(values: readonly string[]): string {
  return `[${values.map(celString).join(', ')}]`;
}

/**
 * An RE2 pattern for a glob (glob.ts semantics: `*` any run without `/`,
 * `?` one character but `/`), anchored. Characters are escaped for RE2.
 */
export function globToRe2(glob: string): string {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (/[A-Za-z0-9_]/.test(ch)) re += ch;
    else {
      const cp = ch.codePointAt(0)!;
      re += `\\x{${cp.toString(16)}}`;
    }
  }
  return `${re}$`;
}

/** CEL that is true when `value` (a CEL string expression) matches the glob. */
export function celGlob(value: string, glob: string): string {
  return hasWildcard(glob)
    ? `${value}.matches(${celString(globToRe2(glob))})`
    : `${value} == ${celString(glob)}`;
}

/** CEL: the value matches any of the globs (false for none). */
export function celGlobAny(value: string, globs: readonly string[]): string {
  if (globs.length === 0) return 'false';
  const literals = globs.filter((g) => !hasWildcard(g));
  const parts = globs.filter(hasWildcard).map((g) => celGlob(value, g));
  if (literals.length > 0) parts.unshift(`${value} in ${celStringList(literals)}`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(' || ')})`;
}

// --- the built-in shape guard (argv.ts checkArgvShape) ---

/**
 * Accepted characters: Go's L, M, N, P, S and Zs categories. Everything the
 * TS guard refuses (Cc, Cf, Cs, Co, Cn, Zl, Zp) is outside these.
 */
const ALLOWED_CHARS = '^[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Zs}]*$';

function shapeCel(): string {
  return [
    'size(variables.argv) > 0',
    'size(variables.argv) <= 256',
    'variables.argv.all(a, size(bytes(a)) <= 4096)',
    'size(bytes(variables.argv.join(""))) <= 65536',
    `variables.argv.all(a, a.matches(${celString(ALLOWED_CHARS)}))`,
    // variables.argv[0]: printable ASCII without spaces, not an option, a bare name or a clean absolute path.
    'variables.argv[0].matches("^[\\\\x{21}-\\\\x{7e}]+$")',
    '!variables.argv[0].startsWith("-")',
    '(!variables.argv[0].contains("/") || (variables.argv[0].startsWith("/") && !variables.argv[0].endsWith("/") && ' +
      'variables.argv[0].split("/").all(s, s != "." && s != "..") && !variables.argv[0].contains("//")))',
  ].join(' && ');
}

// --- deny rules (argv.ts matchDeny, deny-readings.ts) ---

/** Last `/`-piece of a pattern, raw and after lexical normalisation of an absolute pattern. */
function lastPieces(pattern: string): string[] {
  const raw = pattern.slice(pattern.lastIndexOf('/') + 1);
  const pieces = new Set([raw]);
  if (pattern.startsWith('/')) {
    const segs = normalisedSegments(pattern);
    pieces.add(segs[segs.length - 1] ?? '');
  }
  return [...pieces];
}

function normalisedSegments(path: string): string[] {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out;
}

function normalisedAbsolute(pattern: string): string {
  return `/${normalisedSegments(pattern).join('/')}`;
}

/** CEL for "one reading of argument `a` matches the deny element" (sound over-approximation). */
function denyElementCel(element: string): string {
  const pieces = lastPieces(element);
  // A last piece matching "", "." or ".." can be the last piece of a reading no `/`-piece shows.
  if (pieces.some((p) => ['', '.', '..'].some((v) => globToRegExp(p).test(v)))) return 'true';
  const exactForms = new Set([element]);
  if (element.startsWith('/')) exactForms.add(normalisedAbsolute(element));
  const exact = [...exactForms].flatMap((f) => [celGlob('a', f), celGlob('norm', f)]);
  const clean = 'a.startsWith("/") && !a.contains("=") && !a.split("/").exists(s, s == ".." || s == "proc")';
  const piece = pieces.map((p) => celGlob('t', p)).join(' || ');
  const loose =
    `a.split("/").exists(t, ${piece}) || ` +
    `a.split("/").exists(s, s.contains("=") && [s.substring(s.indexOf("=") + 1)].exists(t, ${piece}))`;
  const normExpr = '"/" + a.split("/").filter(s, s != "" && s != ".").join("/")';
  return `(${clean} ? [${normExpr}].exists(norm, ${exact.join(' || ')}) : (${loose}))`;
}

const SHORT_OPTIONS = /^-[A-Za-z]+$/;

function denyRuleCel(argv: readonly string[]): string {
  const p = compilePattern(argv);
  const base = 'variables.argv[0].substring(variables.argv[0].lastIndexOf("/") + 1)';
  const arg0 = `(${celGlob('variables.argv[0]', p.arg0)} || ${celGlob(base, p.arg0Base)})`;
  const fixed = (p.rest ? argv.slice(0, -1) : argv).slice(1);
  const elements = fixed.map((element) => {
    const byReading = `variables.argv.exists(i, a, i > 0 && ${denyElementCel(element)})`;
    if (!SHORT_OPTIONS.test(element)) return byReading;
    // `-rf` also matches `-r -f`, `-fr`: each letter in the leading letters of some short-option argument.
    const letters = [...new Set(element.slice(1))].map(
      (ch) => `variables.argv.exists(i, a, i > 0 && a.matches(${celString(`^-[A-Za-z]*${ch}`)}))`,
    );
    return `(${byReading} || (${letters.join(' && ')}))`;
  });
  return [arg0, ...elements].join(' && ');
}

// --- allow rules (argv.ts matchPattern, checkWildcardArgs) ---

interface EscapeBinary {
  readonly dangerousArgs?: readonly string[];
}
const BINARIES = new Map(Object.entries(escapes.binaries as Record<string, EscapeBinary>));

/** JS `\s` (argv.ts TOKEN_SPLIT uses it) spelled out for RE2, whose `\s` is ASCII only. */
const JS_SPACE =
  '\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}';
const TOKEN_CHARS_EXCLUDED = `${JS_SPACE}=:;,|&\`'"()<>$`;
const TOKEN_SEP = `[${TOKEN_CHARS_EXCLUDED}]`;
const INTERPRETER_NAMES = [...escapes.interpreters].sort();

/** RE2: some token of the argument has an interpreter's name as its basename (version suffix allowed). */
function interpreterTokenRe(): string {
  const names = INTERPRETER_NAMES.map((n) =>
    n.replace(/[^A-Za-z0-9_]/g, (c) => `\\x{${c.codePointAt(0)!.toString(16)}}`),
  );
  const dir = `([^/${TOKEN_CHARS_EXCLUDED}]*/)*`;
  return `(^|${TOKEN_SEP})${dir}(${names.join('|')})([0-9][0-9.]*)?($|${TOKEN_SEP})`;
}

function dangerousArgCel(arg: string, dangerous: readonly string[]): string {
  return dangerous
    .map((d) => {
      const exact = `${arg} == ${celString(d)} || ${arg}.startsWith(${celString(`${d}=`)})`;
      if (!/^-[A-Za-z]$/.test(d)) return exact;
      return `${exact} || ${arg}.matches(${celString(`^-[A-Za-z]*${d[1]}`)})`;
    })
    .join(' || ');
}

/** CEL that is true when a wildcard-matched argument `arg` violates the wildcard guard. */
function wildcardViolationCel(arg0: string, arg: string): string {
  const parts = [`${arg}.matches(${celString(interpreterTokenRe())})`];
  const dangerous =
    BINARIES.get(commandName(arg0))?.dangerousArgs ?? BINARIES.get(basename(arg0))?.dangerousArgs;
  if (dangerous && dangerous.length > 0) parts.push(dangerousArgCel(arg, dangerous));
  return `(${parts.join(' || ')})`;
}

interface AllowRuleCel {
  readonly matches: string;
  /** True when the matched argv passes the wildcard guard. */
  readonly passes: string;
}

function allowRuleCel(argv: readonly string[], matchBasename: boolean): AllowRuleCel {
  const rest = argv[argv.length - 1] === ANY_FURTHER_ARGS;
  const fixed = rest ? argv.slice(0, -1) : argv;
  const n = fixed.length;
  const arg0 = fixed[0]!;
  const conds = [rest ? `size(variables.argv) >= ${n}` : `size(variables.argv) == ${n}`];
  const a0 = `variables.argv[0] == ${celString(arg0)}`;
  conds.push(
    matchBasename && !arg0.includes('/')
      ? `(${a0} || (variables.argv[0].startsWith("/") && variables.argv[0].endsWith(${celString(`/${arg0}`)})))`
      : a0,
  );
  const globIndexes: number[] = [];
  fixed.slice(1).forEach((element, k) => {
    const i = k + 1;
    if (hasWildcard(element)) {
      globIndexes.push(i);
      conds.push(`${celGlob(`variables.argv[${i}]`, element)} && variables.argv[${i}] != ".."`);
    } else conds.push(`variables.argv[${i}] == ${celString(element)}`);
  });
  const runner = isCommandRunner(arg0) || isInterpreter(arg0);
  let passes: string;
  if (runner) {
    // A runner may not leave any argument to a wildcard.
    passes = globIndexes.length > 0 ? 'false' : rest ? `size(variables.argv) == ${n}` : 'true';
  } else {
    const checks = globIndexes.map((i) => `!${wildcardViolationCel(arg0, `variables.argv[${i}]`)}`);
    if (rest) checks.push(`!variables.argv.exists(i, a, i >= ${n} && ${wildcardViolationCel(arg0, 'a')})`);
    passes = checks.length > 0 ? checks.join(' && ') : 'true';
  }
  return { matches: conds.join(' && '), passes };
}

/**
 * CEL over `argv` that is true when `authorizeArgv` would allow it under
 * these command rules (or, where CEL cannot say, false). Deny rules first,
 * then the first matching allow rule decides, as in authorize.ts.
 */
export function commandRulesCel(rules: CommandRules | undefined): string {
  if (!rules || rules.allow.length === 0) return 'false';
  const deny = rules.deny.map((r) => `(${denyRuleCel(r.argv)})`);
  // The first allow rule whose pattern matches decides (a guard violation is not retried on later rules).
  let chain = 'false';
  for (const r of [...rules.allow].reverse()) {
    const { matches, passes } = allowRuleCel(r.argv, rules.matchBasename);
    chain = `((${matches}) ? (${passes}) : ${chain})`;
  }
  const notDenied = deny.length > 0 ? `!(${deny.join(' || ')})` : 'true';
  return `(${shapeCel()}) && ${notDenied} && ${chain}`;
}

/** CEL over `argv`: argv equals one of the listed shell commands exactly. */
export function exactArgvCel(commands: readonly (readonly string[])[]): string {
  if (commands.length === 0) return 'false';
  return `variables.argv in [${commands.map((c) => celStringList(c)).join(', ')}]`;
}
