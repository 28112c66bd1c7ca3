/**
 * Text output of `get KIND` for the kinds beyond pods and events, and of
 * `describe POD`. Pure, like format-output.ts: the Kubernetes JSON wire form
 * and the current time in; every field optional; every string from the
 * cluster through sanitizeForTerminal, so each output line is one terminal
 * line.
 *
 * Columns follow kubectl's printers (pkg/printers/internalversion/printers.go)
 * and the layout of `kubectl describe pod` (pkg/describe/describe.go), trimmed
 * to what the executor's Get returns.
 */

import { sanitizeForTerminal } from '../../core/command-language/sanitize.js';
import {
  type EpochMillis,
  type EventListJson,
  formatAge,
  formatEventTable,
  formatPodTable,
  formatTable,
  type PodJson,
  type PodListJson,
} from './format-output.js';

type Json = Record<string, unknown>;

const obj = (value: unknown): Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown, fallback = '<none>'): string =>
  typeof value === 'string' && value !== '' ? sanitizeForTerminal(value) : fallback;
const num = (value: unknown): string =>
  String(typeof value === 'number' && Number.isFinite(value) ? value : 0);

function age(metadata: unknown, now: EpochMillis): string {
  const created = Date.parse(String(obj(metadata).creationTimestamp ?? ''));
  return Number.isNaN(created) ? '<unknown>' : formatAge(now - created);
}

/** A row of an item: its name, `cells`, its age. */
function namedRow(item: Json, now: EpochMillis, cells: string[]): string[] {
  return [text(obj(item.metadata).name, '<unknown>'), ...cells, age(item.metadata, now)];
}

/** Rows of one list kind: header and the cells of an item. */
const TABLES: Readonly<Record<string, { header: string[]; row(item: Json, now: EpochMillis): string[] }>> = {
  deployments: {
    header: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
    row: (d, now) => {
      const spec = obj(d.spec);
      const status = obj(d.status);
      return namedRow(d, now, [
        `${num(status.readyReplicas)}/${num(spec.replicas)}`,
        num(status.updatedReplicas),
        num(status.availableReplicas),
      ]);
    },
  },
  replicasets: {
    header: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    row: (r, now) => {
      const status = obj(r.status);
      return namedRow(r, now, [num(obj(r.spec).replicas), num(status.replicas), num(status.readyReplicas)]);
    },
  },
  nodes: {
    header: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
    row: (n, now) => {
      const ready = list(obj(n.status).conditions)
        .map(obj)
        .find((c) => c.type === 'Ready');
      let status = ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
      if (obj(n.spec).unschedulable === true) status += ',SchedulingDisabled';
      const roles = Object.keys(obj(obj(n.metadata).labels))
        .filter((label) => label.startsWith('node-role.kubernetes.io/'))
        .map((label) => sanitizeForTerminal(label.slice('node-role.kubernetes.io/'.length)))
        .filter((role) => role !== '');
      return [
        text(obj(n.metadata).name, '<unknown>'),
        status,
        roles.length > 0 ? roles.sort().join(',') : '<none>',
        age(n.metadata, now),
        text(obj(obj(n.status).nodeInfo).kubeletVersion, ''),
      ];
    },
  },
  namespaces: {
    header: ['NAME', 'STATUS', 'AGE'],
    row: (ns, now) => namedRow(ns, now, [text(obj(ns.status).phase, 'Active')]),
  },
};

/**
 * `get KIND` and `get KIND NAME` as a table, as `kubectl get` prints them:
 * `value` is the list (or, with a name, the one object) the executor
 * returned.
 */
export function formatResourceTable(kind: string, value: unknown, now: EpochMillis): string {
  const single = obj(value).items === undefined;
  const items = single ? [value] : list(obj(value).items);
  if (kind === 'pods') return formatPodTable({ items: items as PodJson[] } as PodListJson, now);
  if (kind === 'events') return formatEventTable({ items } as EventListJson, now);
  const table = TABLES[kind];
  if (table === undefined) throw new Error(`no table for ${kind}`);
  if (items.length === 0) return `No ${kind} found.\n`;
  return formatTable(
    table.header,
    items.map((item) => table.row(obj(item), now)),
  );
}

function labelLines(label: string, map: unknown): string[] {
  const entries = Object.entries(obj(map));
  if (entries.length === 0) return [field(label, '<none>')];
  return entries.map(([key, value], i) =>
    field(i === 0 ? label : '', `${sanitizeForTerminal(key)}=${text(value, '')}`),
  );
}

/** `Label:` and its value, the value at `column` (18 for the pod, 20 inside a container). */
function field(label: string, value: string, indent = ''): string {
  const head = label === '' ? '' : `${label}:`;
  const column = indent === '' ? 18 : 20;
  return `${indent}${head.padEnd(Math.max(column - indent.length, head.length + 1))}${value}`;
}

function timeWithAge(value: unknown, now: EpochMillis): string {
  const ms = Date.parse(String(value ?? ''));
  return Number.isNaN(ms) ? '<unknown>' : `${new Date(ms).toISOString()} (${formatAge(now - ms)} ago)`;
}

function stateLines(state: unknown, label: string, now: EpochMillis): string[] {
  const [name, detail] = Object.entries(obj(state))[0] ?? ['waiting', {}];
  const d = obj(detail);
  const lines = [field(label, name.charAt(0).toUpperCase() + sanitizeForTerminal(name.slice(1)), '    ')];
  if (d.reason !== undefined) lines.push(field('Reason', text(d.reason), '      '));
  if (d.message !== undefined) lines.push(field('Message', text(d.message), '      '));
  if (d.exitCode !== undefined) lines.push(field('Exit Code', num(d.exitCode), '      '));
  if (d.startedAt !== undefined) lines.push(field('Started', timeWithAge(d.startedAt, now), '      '));
  if (d.finishedAt !== undefined) lines.push(field('Finished', timeWithAge(d.finishedAt, now), '      '));
  return lines;
}

function containerLines(container: Json, status: Json | undefined, now: EpochMillis): string[] {
  const lines = [`  ${text(container.name, '<unknown>')}:`];
  lines.push(field('Image', text(container.image), '    '));
  for (const [label, words] of [
    ['Command', container.command],
    ['Args', container.args],
  ] as const) {
    if (list(words).length === 0) continue;
    lines.push(`    ${label}:`, ...list(words).map((w) => `      ${text(w, '""')}`));
  }
  const ports = list(container.ports).map((p) => {
    const port = obj(p);
    return `${num(port.containerPort)}/${text(port.protocol, 'TCP')}${port.name ? ` (${text(port.name)})` : ''}`;
  });
  lines.push(field('Ports', ports.length > 0 ? ports.join(', ') : '<none>', '    '));
  if (status !== undefined) {
    lines.push(...stateLines(status.state, 'State', now));
    if (Object.keys(obj(status.lastState)).length > 0)
      lines.push(...stateLines(status.lastState, 'Last State', now));
    lines.push(field('Ready', status.ready === true ? 'True' : 'False', '    '));
    lines.push(field('Restart Count', num(status.restartCount), '    '));
  }
  lines.push(...environmentLines(container));
  return lines;
}

/**
 * `Environment:` as kubectl prints it: each variable's value (the executor has
 * already replaced values with `<redacted>` unless the profile reveals them),
 * or where a `valueFrom` takes it from; then `envFrom` sources.
 */
function environmentLines(container: Json): string[] {
  const env = list(container.env).map(obj);
  if (env.length === 0) return [field('Environment', '<none>', '    ')];
  const width = Math.max(...env.map((e) => text(e.name, '').length)) + 3;
  const lines = ['    Environment:'];
  for (const variable of env) {
    const from = Object.keys(obj(variable.valueFrom))[0];
    const value = from === undefined ? text(variable.value, '') : `<set from ${sanitizeForTerminal(from)}>`;
    lines.push(`      ${`${text(variable.name, '')}:`.padEnd(width)}${value}`);
  }
  const sources = list(container.envFrom).map(obj);
  if (sources.length > 0) {
    lines.push('    Environment Variables from:');
    for (const source of sources) {
      const [kind, ref] = Object.entries(source).find(([key]) => key.endsWith('Ref')) ?? ['', {}];
      lines.push(
        `      ${text(obj(ref).name, '<redacted>')}  ${sanitizeForTerminal(kind.replace(/Ref$/, ''))}`,
      );
    }
  }
  return lines;
}

/** `describe POD`: the pod as `kubectl describe pod` lays it out (without its events). */
export function formatPodDescription(value: unknown, now: EpochMillis): string {
  const pod = obj(value);
  const metadata = obj(pod.metadata);
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  const owner = list(metadata.ownerReferences).map(obj)[0];
  const lines = [
    field('Name', text(metadata.name)),
    field('Namespace', text(metadata.namespace)),
    field('Service Account', text(spec.serviceAccountName)),
    field('Node', `${text(spec.nodeName)}${status.hostIP ? `/${text(status.hostIP)}` : ''}`),
    field('Start Time', status.startTime ? timeWithAge(status.startTime, now) : '<none>'),
    ...labelLines('Labels', metadata.labels),
    ...labelLines('Annotations', metadata.annotations),
    field('Status', metadata.deletionTimestamp ? 'Terminating' : text(status.phase, 'Unknown')),
    field('IP', text(status.podIP)),
    ...(owner ? [field('Controlled By', `${text(owner.kind)}/${text(owner.name)}`)] : []),
  ];
  const statuses = list(status.containerStatuses).map(obj);
  for (const [label, key] of [
    ['Init Containers', 'initContainers'],
    ['Containers', 'containers'],
  ] as const) {
    const containers = list(spec[key]).map(obj);
    if (containers.length === 0) continue;
    const known = key === 'containers' ? statuses : list(status.initContainerStatuses).map(obj);
    lines.push(`${label}:`);
    for (const c of containers)
      lines.push(
        ...containerLines(
          c,
          known.find((s) => s.name === c.name),
          now,
        ),
      );
  }
  const conditions = list(status.conditions).map(obj);
  if (conditions.length > 0) {
    const rows = conditions.map((c) => [text(c.type), text(c.status)]);
    lines.push(
      'Conditions:',
      ...formatTable(['Type', 'Status'], rows)
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  lines.push(field('Events', "see 'events' for the namespace's events"));
  return `${lines.join('\n')}\n`;
}
