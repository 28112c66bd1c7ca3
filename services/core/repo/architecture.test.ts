/**
 * The shape of the house, checked on every test run: core at the bottom, the
 * tiers (mediator, executor, broker, admission) on it and independent of each
 * other, the CLI on core alone, and no import circle anywhere. It reads the
 * import statements of every TypeScript file under services/ as text (type-only
 * imports count: a circle of types is still a circle to read and to change).
 *
 * Test code (`*.test.ts`, `testing.ts`, `*-test-helpers.ts`, `*-test-support.ts`) may reach across
 * tiers to build real parts; it may not make a circle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SERVICES = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TIERS = ['mediator', 'executor', 'broker', 'admission'] as const;

/** Every .ts file under `dir`, as a path relative to services/ with `/` separators. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')
      ? [relative(SERVICES, path).split('\\').join('/')]
      : [];
  });
}

/** `from '…'`, `import '…'` and `import('…')` specifiers of one file. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

/** The relative imports of `file`, resolved to files under services/ (`.js` → `.ts`). */
function importsOf(file: string, text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1]!;
    if (!specifier.startsWith('.')) continue;
    found.add(posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts'));
  }
  return [...found];
}

/** Strongly connected components with more than one file (or a file importing itself): the circles. */
function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const isTestCode = (file: string) =>
  /(\.test\.ts|\/testing\.ts|-test-helpers\.ts|-test-support\.ts)$/.test(file);
const layerOf = (file: string) => file.split('/')[0]!;

/** Why `from` may not import `to`, or undefined when it may. */
function layerViolation(from: string, to: string): string | undefined {
  if (isTestCode(from)) return undefined;
  const [source, target] = [layerOf(from), layerOf(to)];
  if (source === target || target === 'core') return undefined;
  if (source === 'core') return 'core imports nothing above it';
  if (source === 'cli') return 'the CLI uses the tiers only through core';
  return 'a tier does not import another tier or the CLI';
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SERVICES)) {
    graph.set(file, importsOf(file, readFileSync(join(SERVICES, file), 'utf8')));
  }
  return graph;
}

describe('architecture', () => {
  const graph = importGraph();

  it('reads the services tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('mediator/ssh-frontend.ts')).toContain('mediator/executor-session.ts');
  });

  it('has no import circle', () => {
    expect(circles(graph)).toEqual([]);
  });

  it('keeps core at the bottom, the tiers apart and the CLI on core', () => {
    const violations = [...graph].flatMap(([from, imports]) =>
      imports.flatMap((to) => {
        const why = layerViolation(from, to);
        return why ? [`${from} → ${to}: ${why}`] : [];
      }),
    );
    expect(violations).toEqual([]);
  });

  it('knows every top-level folder of services/', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    expect([...layers].sort()).toEqual(['cli', 'core', ...TIERS].sort());
  });

  it('keeps only the error catalogue at the root of core, everything else in a folder by concern', () => {
    const root = [...graph.keys()].filter((file) => layerOf(file) === 'core' && !file.slice(5).includes('/'));
    expect(root.sort()).toEqual(['core/errors-test-support.ts', 'core/errors.test.ts', 'core/errors.ts']);
  });

  it('finds a circle and a tier-to-tier import when there is one', () => {
    const looped = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
      ['e.ts', ['e.ts']],
    ]);
    expect(circles(looped)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
    expect(
      importsOf('executor/x.ts', "import { y } from '../mediator/y.js';\nimport type { Z } from './z.js';"),
    ).toEqual(['mediator/y.ts', 'executor/z.ts']);
    expect(layerViolation('executor/x.ts', 'mediator/y.ts')).toMatch(/tier/);
    expect(layerViolation('cli/commands/x.ts', 'broker/y.ts')).toMatch(/CLI/);
    expect(layerViolation('core/x.ts', 'broker/y.ts')).toMatch(/core/);
    expect(layerViolation('cli/commands/x.test.ts', 'broker/testing.ts')).toBeUndefined();
    expect(layerViolation('cli/commands/x-test-support.ts', 'broker/testing.ts')).toBeUndefined();
    expect(layerViolation('broker/x.ts', 'core/y.ts')).toBeUndefined();
  });
});
