/**
 * The image rules of issue #10 for Dockerfile.mediator and Dockerfile.executor,
 * checked statically: Debian has no hadolint package and the development
 * machines have no container engine (deploy/README.md, "Images"). The rules
 * follow hadolint's where they overlap (DL3006/DL3007 tagged bases, DL3002
 * non-root last USER, DL3025 exec-form CMD, DL3020 COPY not ADD).
 */
import { readFileSync } from 'node:fs';
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

/** `deploy/base/<tier>.yaml`: the image and the script the container runs. */
function deployment(tier: string): { image: string; script: string } {
  const text = readFileSync(join(repoRoot(), 'deploy', 'base', `${tier}.yaml`), 'utf8');
  const image = /^\s+image: (\S+)/m.exec(text)?.[1] ?? '';
  const args = JSON.parse(/^\s+args: (\[.*\])$/m.exec(text)?.[1] ?? '[]') as string[];
  return { image: image.replace(/:[^:/]+$/, ''), script: args[0] ?? '' };
}

describe.each([
  { file: 'Dockerfile.mediator', image: 'airlock-mediator', tiers: ['mediator', 'broker', 'admission'] },
  { file: 'Dockerfile.executor', image: 'airlock-executor', tiers: ['executor'] },
])('$file', ({ file, image, tiers }) => {
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

  it('runs as a non-root user and executes nothing in the runtime stage (no shell there to run it)', () => {
    expect(runtime.filter((i) => i.op === 'RUN')).toEqual([]);
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
