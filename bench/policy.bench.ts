/**
 * Times authorizeIntent for a policy of 50 profiles × 50 command rules and
 * prints p50/p99 as JSON. A plain script, not a test: results are recorded,
 * never asserted. Target: p50 < 20 µs.
 *
 *   npm run build && node dist/bench/policy.bench.js
 */
import { authorizeIntent, type Intent, loadPolicy, type Scope } from '../services/core/policy/index.js';

const PROFILES = 50;
const RULES = 50;

function buildPolicy() {
  const profiles: Record<string, unknown> = {};
  for (let p = 0; p < PROFILES; p++) {
    const allow = [];
    for (let r = 0; r < RULES; r++) {
      // A mix of exact argv, per-argument globs and trailing "..." rules.
      if (r % 3 === 0) allow.push({ id: `r${r}`, argv: [`tool${r}`, '--flag', `value-${r}`] });
      else if (r % 3 === 1) allow.push({ id: `r${r}`, argv: [`tool${r}`, '/proc/*/status', '-n', '?'] });
      else allow.push({ id: `r${r}`, argv: [`tool${r}`, 'sub', '...'] });
    }
    profiles[`profile-${p}`] = {
      groups: ['jit:bench:{namespace}'],
      requesterGroups: ['devs'],
      maxTtlSeconds: 3600,
      scope: { clusters: ['prod-*'], namespaces: ['payments', 'shop-*'], pods: ['api-*', 'worker-*'] },
      actions: { exec: {}, logs: {}, 'port-forward': { ports: [8080] } },
      commands: {
        matchBasename: true,
        allow,
        deny: [{ argv: ['tool1', '/proc/*/status', '-n', 'x'] }, { argv: ['cat', '/proc/*/environ'] }],
      },
      approval: { manual: { approverGroups: ['leads'], count: 1, pendingExpirySeconds: 600 } },
    };
  }
  return loadPolicy({ version: 1, limits: { maxTtlSeconds: 3600 }, profiles });
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function measure(name: string, fn: () => void, samples = 100_000) {
  for (let i = 0; i < 20_000; i++) fn();
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  times.sort();
  return {
    name,
    samples,
    p50_us: Number(percentile(times, 0.5).toFixed(3)),
    p99_us: Number(percentile(times, 0.99).toFixed(3)),
    max_us: Number(percentile(times, 1).toFixed(3)),
  };
}

const policy = buildPolicy();
const scope: Scope = {
  profile: 'profile-49',
  cluster: 'prod-eu',
  namespace: 'shop-de',
  podPatterns: ['api-*'],
};
const base = { action: 'exec', namespace: 'shop-de', pod: 'api-7f9c' } as const;
const cases: [string, Intent][] = [
  ['exec, first rule matches', { ...base, argv: ['tool0', '--flag', 'value-0'] }],
  ['exec, last rule matches (glob)', { ...base, argv: ['tool49', '/proc/1234/status', '-n', '5'] }],
  ['exec, trailing "..." rule, basename', { ...base, argv: ['/usr/bin/tool47', 'sub', 'a', 'b', 'c'] }],
  ['exec, no rule matches', { ...base, argv: ['nothing', 'here'] }],
  ['exec, deny rule', { ...base, argv: ['cat', '/proc/1/environ'] }],
  ['exec, shell refused', { ...base, argv: ['sh', '-c', 'id'] }],
  ['port-forward', { action: 'port-forward', namespace: 'shop-de', pod: 'api-1', port: 8080 }],
];

let sink = 0;
const results = cases.map(([name, intent]) =>
  measure(name, () => {
    if (authorizeIntent(policy, scope, intent).allow) sink++;
  }),
);
const all = results.map((r) => r.p50_us);
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'authorizeIntent',
      policy: { profiles: PROFILES, commandRulesPerProfile: RULES },
      node: process.version,
      target_p50_us: 20,
      worst_p50_us: Math.max(...all),
      results,
      sink: sink > 0,
    },
    null,
    2,
  )}\n`,
);
