/**
 * The image rules of issue #10 for Dockerfile.mediator and Dockerfile.executor,
 * checked statically: Debian has no hadolint package (deploy/README.md,
 * "Images"). The rules follow hadolint's where they overlap (DL3006/DL3007
 * tagged bases, DL3002 non-root last USER, DL3025 exec-form CMD, DL3020 COPY
 * not ADD, DL3015 --no-install-recommends). Issue #18: the mediator image
 * compiles ssh2's crypto binding in its build stage and its build fails unless
 * the binding loads in the runtime stage.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './repo-root.js';

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** Splits into the ARGs before the first FROM and one list per stage (each starting with its FROM). */
function stages(all: Instruction[]): { globals: Instruction[]; stages: Instruction[][] } {
  const first = all.findIndex((i) => i.op === 'FROM');
  const result: Instruction[][] = [];
  for (const instruction of all.slice(first)) {
    if (instruction.op === 'FROM') result.push([]);
    result.at(-1)!.push(instruction);
  }
  return { globals: all.slice(0, first), stages: result };
}

/** `deploy/base/<tier>.yaml` (or components/standing-tiers/): the image and the script the container runs. */
function deployment(tier: string): { image: string; script: string } {
  const inBase = join(repoRoot(), 'deploy', 'base', `${tier}.yaml`);
  // The standing mediator and executor are a component since ephemeral mode became the default.
  const path = existsSync(inBase)
    ? inBase
    : join(repoRoot(), 'deploy', 'components', 'standing-tiers', `${tier}.yaml`);
  const text = readFileSync(path, 'utf8');
  const image = /^\s+image: (\S+)/m.exec(text)?.[1] ?? '';
  const args = JSON.parse(/^\s+args: (\[.*\])$/m.exec(text)?.[1] ?? '[]') as string[];
  return { image: image.replace(/:[^:/]+$/, ''), script: args[0] ?? '' };
}

/** The exec-form runtime check of Dockerfile.mediator: node, `-e`, a script that exits 1 without the binding. */
const BINDING_CHECK =
  /^\["node", "-e", ".*require\('ssh2\/lib\/protocol\/crypto\.js'\)\.bindingAvailable !== true\).*process\.exit\(1\)/;

describe.each([
  {
    file: 'Dockerfile.mediator',
    image: 'airlock-mediator',
    tiers: ['mediator', 'broker', 'admission'],
    native: true,
  },
  { file: 'Dockerfile.executor', image: 'airlock-executor', tiers: ['executor'], native: false },
])('$file', ({ file, image, tiers, native }) => {
  const all = instructions(readFileSync(join(repoRoot(), file), 'utf8'));
  const { globals, stages: parts } = stages(all);
  const build = parts[0] ?? [];
  const runtime = parts.at(-1) ?? [];
  const arg = (name: string) =>
    globals.find((i) => i.op === 'ARG' && i.args.startsWith(`${name}=`))?.args.slice(name.length + 1) ?? '';
  const nodeVersion = Number(arg('NODE_VERSION'));

  it('is multi-stage on a Node LTS line: by default a slim Debian build stage and a distroless runtime of the same major', () => {
    expect(parts.length).toBe(2);
    // LTS lines are even; 26 became Active LTS on 2026-10-28.
    expect(nodeVersion % 2).toBe(0);
    expect(nodeVersion).toBeGreaterThanOrEqual(26);
    // Both stages' images are build arguments (`airlock dev images` builds them on a local base).
    expect(build[0]!.args).toMatch(/^\$\{BASE_IMAGE\} AS build$/);
    expect(runtime[0]!.args).toMatch(/^\$\{RUNTIME_IMAGE\}$/);
    expect(arg('BASE_IMAGE')).toMatch(/^node:\$\{NODE_VERSION\}-[a-z]+-slim$/);
    expect(arg('RUNTIME_IMAGE')).toMatch(/^gcr\.io\/distroless\/nodejs\$\{NODE_VERSION\}-debian\d+:nonroot$/);
    for (const image of [arg('BASE_IMAGE'), arg('RUNTIME_IMAGE')]) expect(image).not.toMatch(/:latest\b/);
  });

  it('ships production dependencies only: npm ci without install scripts, then npm prune --omit=dev', () => {
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /^npm ci --ignore-scripts\b/.test(r))).toBe(true);
    expect(runs.some((r) => /npm prune --omit=dev\b/.test(r))).toBe(true);
    const copied = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copied).toEqual([
      '--from=build /app/package.json ./',
      '--from=build /app/node_modules ./node_modules',
      '--from=build /app/dist/services ./dist/services',
      'proto ./proto',
    ]);
    expect(all.filter((i) => i.op === 'ADD')).toEqual([]);
  });

  it(`${native ? "compiles ssh2's crypto binding and cpu-features in the build stage only" : 'builds no native addon'}: no compiler in the runtime stage`, () => {
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
    const postinstall = runs.indexOf('npm run postinstall');
    if (!native) {
      expect(postinstall).toBe(-1);
      expect(runs.join('\n')).not.toMatch(/apt-get|g\+\+|node-gyp|rebuild/);
      return;
    }
    // After `npm ci --ignore-scripts`, the postinstall it skipped (scripts/native-addons.js):
    // patches ssh2, rebuilds the addons for this stage's Node, fails when they do not load.
    expect(postinstall).toBeGreaterThan(runs.findIndex((r) => r.startsWith('npm ci --ignore-scripts')));
    expect(postinstall).toBeLessThan(runs.findIndex((r) => r.includes('npm prune --omit=dev')));
    const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.postinstall).toBe('node scripts/native-addons.js');
    expect(build.filter((i) => i.op === 'COPY').map((i) => i.args)).toContain(
      'scripts/native-addons.js scripts/patch-ssh2.js ./scripts/',
    );
    // The toolchain is installed only where the base lacks it, without recommends, lists removed.
    const toolchain = runs.find((r) => r.includes('apt-get install')) ?? '';
    expect(toolchain).toMatch(
      /^\(command -v g\+\+ && command -v make && command -v python3\) >\/dev\/null +\|\| /,
    );
    expect(toolchain).toMatch(/apt-get install -y --no-install-recommends g\+\+ make python3/);
    expect(toolchain).toContain('rm -rf /var/lib/apt/lists/*');
    // The runtime stage takes only node_modules, the compiled services and package.json
    // from the build stage (the test above): the compiler stays behind.
  });

  it(`runs as a non-root user; the runtime stage executes ${native ? 'only the binding check, in exec form' : 'nothing'} (no shell there)`, () => {
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    if (native) {
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatch(BINDING_CHECK);
      // Run as the pods run: after USER, so the non-root user loads the binding.
      const order = runtime.map((i) => i.op);
      expect(order.indexOf('RUN')).toBeGreaterThan(order.indexOf('USER'));
    } else {
      expect(runs).toEqual([]);
    }
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^\d+:\d+$/);
    expect(
      user
        .split(':')
        .map(Number)
        .every((id) => id > 0),
    ).toBe(true);
    expect(runtime.find((i) => i.op === 'CMD')?.args).toMatch(/^\["dist\/services\/[a-z]+\/main\.js",/);
  });

  it(`gives ${tiers.join(' and ')} their own entrypoint, the one its Deployment runs from this image`, () => {
    for (const tier of tiers) {
      const { image: used, script } = deployment(tier);
      expect(used).toBe(image);
      expect(script).toBe(`dist/services/${tier}/main.js`);
      // The compiled entrypoint comes from services/<tier>/main.ts, which the build stage copies.
      expect(readFileSync(join(repoRoot(), 'services', tier, 'main.ts'), 'utf8')).toContain('serviceMain(');
    }
  });
});

describe('stream tiers runtime flags', () => {
  it.each(['executor', 'mediator'])(
    "Dockerfile.%s runs node with the stream tiers' flags (STREAM_TIER_NODE_FLAGS) through NODE_OPTIONS",
    async (tier) => {
      const { STREAM_TIER_NODE_FLAGS } = await import('../service/node-flags.js');
      const { stages: parts } = stages(
        instructions(readFileSync(join(repoRoot(), `Dockerfile.${tier}`), 'utf8')),
      );
      const env = (parts.at(-1) ?? []).filter((i) => i.op === 'ENV').map((i) => i.args);
      expect(env).toContain(`NODE_OPTIONS="${STREAM_TIER_NODE_FLAGS.join(' ')}"`);
    },
  );
});

/** The .ts files below `dir`, tests left out. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => join(dir, name));
}

describe('native addons', () => {
  it('only the mediator loads ssh2, so only its image compiles the binding (the executor needs no compiler)', () => {
    const services = join(repoRoot(), 'services');
    const loaders = sources(services)
      .filter((path) => /from 'ssh2(\/[^']*)?'|require\('ssh2[/']/.test(readFileSync(path, 'utf8')))
      .map((path) => path.slice(services.length + 1).split('/')[0]);
    // The CLI is not in the images (.dockerignore); the broker and admission share the mediator image.
    expect(new Set(loaders.filter((tier) => tier !== 'cli'))).toEqual(new Set(['mediator']));
  });
});
