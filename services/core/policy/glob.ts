/**
 * Globs used throughout the policy: `*` matches any run of characters except
 * `/`, `?` matches one character except `/`. There are no character classes,
 * braces or escapes, so every other character is literal.
 *
 * `/` is excluded so that a pattern such as `/proc/*\/status` cannot reach
 * `/proc/1/root/etc/x/status`; argument matching additionally refuses `..`
 * segments in wildcard-matched values (see argv.ts).
 */

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

const cache = new Map<string, RegExp>();

/** Compiles a glob to an anchored RegExp (cached). */
export function globToRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re === undefined) {
    let source = '^';
    for (const ch of pattern) {
      if (ch === '*') source += '[^/]*';
      else if (ch === '?') source += '[^/]';
      else source += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
    }
    source += '$';
    re = new RegExp(source, 'su');
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

export function globMatch(pattern: string, value: string): boolean {
  if (!hasWildcard(pattern)) return pattern === value;
  return globToRegExp(pattern).test(value);
}

export function globMatchAny(patterns: readonly string[], value: string): boolean {
  for (const p of patterns) if (globMatch(p, value)) return true;
  return false;
}

/**
 * True when every string matched by `specific` is also matched by `general`.
 * Sound but not complete: a `?` in `general` never covers a `*` in `specific`,
 * and a literal in `general` only covers the same literal.
 */
export function globSubsumes(general: string, specific: string): boolean {
  const g = [...general];
  const s = [...specific];
  // memo[i][j]: general[i:] covers specific[j:]
  const memo = new Map<number, boolean>();
  const width = s.length + 1;
  const go = (i: number, j: number): boolean => {
    const key = i * width + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let result: boolean;
    if (i === g.length) result = j === s.length;
    else {
      const gc = g[i];
      if (gc === '*') {
        // `*` absorbs zero or more of specific's tokens, but never a `/`.
        result = go(i + 1, j) || (j < s.length && s[j] !== '/' && go(i, j + 1));
      } else if (j === s.length) result = false;
      else if (gc === '?') result = s[j] !== '*' && s[j] !== '/' && go(i + 1, j + 1);
      else result = s[j] === gc && go(i + 1, j + 1);
    }
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}
