import { StringDecoder } from 'node:string_decoder';
import type { Command, OutputFormat } from '../core/command-language/parse-command.js';
import { sanitizeForTerminal } from '../core/command-language/sanitize.js';
import { AirlockError } from '../core/errors.js';
import type { Intent } from '../core/policy/index.js';
import type { CallOptions } from '../core/rpc/executor-client.js';
import { fromGrpcError } from '../core/rpc/grpc-errors.js';
import { forwardChunk } from '../core/streams/backpressure.js';
import { type CommandContext, type CommandIo, podAuditTarget, wireTarget } from './command-context.js';
import { EXIT_CODES } from './command-language/exit-codes.js';
import {
  type EventListJson,
  formatEventTable,
  formatPodTable,
  formatWhoami,
  type PodListJson,
  whoamiOf,
} from './command-language/format-output.js';
import { formatPodDescription, formatResourceTable } from './command-language/format-resources.js';
import { formatYaml } from './command-language/format-yaml.js';
import { authorizeAndAudit } from './intent-audit.js';

/** YAML whose every line is one terminal line (formatYaml escapes already; this makes sure). */
function yamlForTerminal(value: unknown): string {
  return formatYaml(value).split('\n').map(sanitizeForTerminal).join('\n');
}
/** One kind of parsed command. */
type CommandOf<K extends Command['kind']> = Extract<Command, { kind: K }>;

function printObject(
  io: CommandIo,
  output: OutputFormat,
  json: string,
  text: (value: unknown) => string,
): void {
  const value = JSON.parse(json) as unknown;
  io.stdout.write(output === 'json' ? `${JSON.stringify(value)}\n` : text(value));
}

/** `whoami`: the session as this connection opened it; no executor call. */
export function runWhoami(command: CommandOf<'whoami'>, io: CommandIo, ctx: CommandContext): number {
  const who = whoamiOf(ctx.session);
  io.stdout.write(
    command.output === 'json' ? `${JSON.stringify(who)}\n` : formatWhoami(who, ctx.clock().getTime()),
  );
  return EXIT_CODES.OK;
}

/** `pods` and `events`: a table of the namespace's objects. */
export async function runListing(
  command: CommandOf<'pods' | 'events'>,
  io: CommandIo,
  ctx: CommandContext,
  options: CallOptions,
): Promise<number> {
  const resource = command.kind;
  await authorizeAndAudit(
    ctx,
    { action: 'list', namespace: command.namespace, resource },
    { namespace: command.namespace, resource },
  );
  const list = await ctx.client.list({ kind: resource, namespace: command.namespace }, options);
  const now = ctx.clock().getTime();
  printObject(io, command.output, list.json, (value) =>
    resource === 'pods'
      ? formatPodTable(value as PodListJson, now)
      : formatEventTable(value as EventListJson, now),
  );
  return EXIT_CODES.OK;
}

/** `get RESOURCE [NAME]`: one object or a list, as JSON. */
export async function runGet(
  command: CommandOf<'get'>,
  io: CommandIo,
  ctx: CommandContext,
  options: CallOptions,
): Promise<number> {
  const ns = command.namespace || undefined;
  const intent: Intent = command.name
    ? {
        action: 'get',
        namespace: ns,
        resource: command.resource,
        ...(command.resource === 'pods' ? { pod: command.name } : {}),
      }
    : { action: 'list', namespace: ns, resource: command.resource };
  await authorizeAndAudit(ctx, intent, { namespace: ns, resource: command.resource });
  const result = command.name
    ? await ctx.client.get(
        { kind: command.resource, namespace: command.namespace, name: command.name },
        options,
      )
    : await ctx.client.list({ kind: command.resource, namespace: command.namespace }, options);
  const now = ctx.clock().getTime();
  // A list is a table, as `kubectl get`; one named object is YAML, as `kubectl get -o yaml`.
  printObject(io, command.output, result.json, (value) =>
    command.name ? yamlForTerminal(value) : formatResourceTable(command.resource, value, now),
  );
  return EXIT_CODES.OK;
}

/** `describe POD`: the pod as `kubectl describe pod` lays it out (JSON with `-o json`). */
export async function runDescribe(
  command: CommandOf<'describe'>,
  io: CommandIo,
  ctx: CommandContext,
  options: CallOptions,
): Promise<number> {
  const { target } = command;
  await authorizeAndAudit(
    ctx,
    { action: 'get', namespace: target.namespace, resource: 'pods', pod: target.pod },
    podAuditTarget(target, 'pods'),
  );
  const pod = await ctx.client.get({ kind: 'pods', namespace: target.namespace, name: target.pod }, options);
  io.stdout.write(
    command.output === 'json'
      ? `${pod.json}\n`
      : formatPodDescription(JSON.parse(pod.json), ctx.clock().getTime()),
  );
  return EXIT_CODES.OK;
}

/** `logs POD [-f]`: the container's log, sanitised line by line, with backpressure. */
export async function runLogs(
  command: CommandOf<'logs'>,
  io: CommandIo,
  ctx: CommandContext,
  options: CallOptions,
): Promise<number> {
  const pod = wireTarget(command.target);
  await authorizeAndAudit(ctx, { action: 'logs', ...pod }, podAuditTarget(command.target, 'pods/log'));
  const call = ctx.client.logs(
    {
      target: pod,
      follow: command.follow,
      since_seconds: command.sinceSeconds ?? 0,
      tail_lines: command.tailLines ?? -1,
      timestamps: command.timestamps,
    },
    options,
  );
  const decoder = new StringDecoder('utf8');
  // A followed log ends when the client goes away: closing the SSH channel
  // ends our side of it (ssh2 ends the writable). Not stdin EOF, which
  // `ssh … < /dev/null` sends at once; and nothing here reads stdin, so
  // its 'end' would never come anyway.
  const clientGone = () => call.cancel();
  if (command.follow) {
    io.stdout.once('finish', clientGone);
    io.stdout.once('close', clientGone);
  }
  await new Promise<void>((resolve, reject) => {
    call.on('data', (chunk: { data: Buffer }) => {
      // Pod output goes to the user's terminal: neutralise escape sequences, keep the lines.
      const text = decoder.write(chunk.data).split('\n').map(sanitizeForTerminal).join('\n');
      forwardChunk(io.stdout, text, call);
    });
    call.on('end', resolve);
    call.on('error', (error) => reject(fromGrpcError(error)));
  })
    .catch((error: unknown) => {
      if (error instanceof AirlockError && error.detail?.includes('Cancelled')) return;
      throw error;
    })
    .finally(() => {
      // An interactive session runs many commands on one channel.
      io.stdout.off('finish', clientGone);
      io.stdout.off('close', clientGone);
    });
  return EXIT_CODES.OK;
}
