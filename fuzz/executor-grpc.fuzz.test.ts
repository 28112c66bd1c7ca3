/**
 * Fuzz target: the executor's decoding of request messages. A real executor
 * process (dist/services/executor/main.js) with real mTLS receives random
 * bytes and mutations of real requests as the request message of every RPC,
 * from a client holding a valid session grant:
 *
 * - channel A's grant is for session S, opened properly first, so the
 *   intent RPCs (Exec, Debug, Logs, PortForward, Get, List) get past
 *   authentication and their messages are decoded and authorized;
 * - channel B's grant is for session T, and its OpenSession requests carry a
 *   valid certificate with a signature over other data, so they exercise
 *   the certificate parser and can never succeed.
 *
 * Every call must end with a non-OK gRPC status before its deadline (no
 * hang, no success), the process must stay alive and answer a proper call
 * at the end, and its audit trail must show nothing authorised: no
 * `intent.allowed`, and no session opened but S. The policy allows one
 * command, `echo fuzz-canary-<random>`, that no seed names.
 * CloseSession is not fuzzed: its request is empty, so any bytes are a valid
 * request that would just close S.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CODE_METADATA_KEY,
  loadExecutorService,
  SESSION_METADATA_KEY,
} from '../services/core/rpc/executor-proto.js';
import { formatPublicKeyLine, generateCaKey, type SshPrivateKey } from '../services/core/ssh-cert/index.js';
import { createTierCa, type TierCa } from '../services/core/x509/index.js';
import { type Gateway, newSession, type TestSession } from '../test/support/executor-harness.js';
import { fuzz } from './fuzz-runs.js';
import { mutatedBytes } from './mutate.js';

const repo = join(import.meta.dirname, '..');
const CLUSTER = 'fuzz';
const NAMESPACE = 'fuzz-ns';
const CANARY = `fuzz-canary-${Math.random().toString(36).slice(2)}`;
const SCOPE = {
  cluster: CLUSTER,
  namespace: NAMESPACE,
  podPatterns: ['api-*'],
  profile: 'fuzz',
  requestId: 'req-fuzz',
  groups: [`jit:fuzz:${NAMESPACE}`],
};
const DEADLINE_MS = 10_000;

type Kind = 'unary' | 'server-stream' | 'bidi';
const METHODS: Record<string, Kind> = {
  OpenSession: 'unary',
  Get: 'unary',
  List: 'unary',
  Logs: 'server-stream',
  Exec: 'bidi',
  Debug: 'bidi',
  PortForward: 'bidi',
};

let dir: string;
let executor: ChildProcess;
let port: number;
let executorCa: TierCa;
let sessionS: TestSession;
let sessionT: TestSession;
let rawA: grpc.Client;
let rawB: grpc.Client;
const seeds: Record<string, Buffer[]> = {};

function writeConfig(sshCa: SshPrivateKey, mediatorCa: TierCa): string {
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      version: 1,
      limits: { maxTtlSeconds: 3600 },
      profiles: {
        fuzz: {
          groups: ['jit:fuzz:{namespace}'],
          requesterGroups: ['fuzzers'],
          scope: { clusters: [CLUSTER], namespaces: [NAMESPACE], pods: ['api-*'] },
          actions: { exec: {} },
          commands: { matchBasename: false, allow: [{ argv: ['echo', CANARY] }], deny: [] },
          approval: { manual: { approverGroups: ['leads'], count: 1, pendingExpirySeconds: 600 } },
        },
      },
    }),
  );
  writeFileSync(join(dir, 'ssh-ca.pub'), `${formatPublicKeyLine(sshCa.publicKey, 'fuzz-ca')}\n`);
  writeFileSync(join(dir, 'mediator-ca.pem'), mediatorCa.certPem);
  writeFileSync(join(dir, 'executor-ca.pem'), executorCa.certPem);
  writeFileSync(join(dir, 'executor-ca.key'), executorCa.privateKeyPem, { mode: 0o600 });
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'audit.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  // Nothing listens on port 1: an intent wrongly authorised would fail there, and its
  // intent.allowed would still be in the trail.
  writeFileSync(
    join(dir, 'kubeconfig'),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'fuzz' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  // The login record complete since the epoch: the harness backdates certificates by a minute,
  // which a fresh executor would refuse (CERT_PREDATES_REPLAY_RECORD).
  writeFileSync(join(dir, 'used-logins.jsonl'), '{"v":1,"since":0}\n');
  const config = join(dir, 'executor.json');
  writeFileSync(
    config,
    JSON.stringify({
      listen: '127.0.0.1:0',
      cluster: CLUSTER,
      policyFile: 'policy.json',
      sshUserCaKeysFile: 'ssh-ca.pub',
      revocation: { denyListFiles: [] },
      mediatorCaBundleFile: 'mediator-ca.pem',
      executorCa: { certFile: 'executor-ca.pem', keyFile: 'executor-ca.key' },
      audit: { path: 'executor.jsonl', signingKeyFile: 'audit.key' },
      serving: { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
      kubeconfig: 'kubeconfig',
      drainSeconds: 1,
      logLevel: 'fatal',
    }),
  );
  return config;
}

/** A plain gRPC client with `session`'s grant: it sends request messages as raw bytes. */
function rawClient(session: TestSession): grpc.Client {
  return new grpc.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createSsl(
      Buffer.from(executorCa.certPem),
      Buffer.from(session.grant.keyPem),
      Buffer.from(session.grant.certPem),
    ),
    // The serving certificate names localhost; SNI may not be an IP (RFC 6066, refused by Node 26).
    { 'grpc.ssl_target_name_override': 'localhost' },
  );
}

beforeAll(async () => {
  const built = join(repo, 'dist', 'services', 'executor', 'main.js');
  if (!existsSync(built))
    throw new Error('run `npm run build` first: the fuzz target starts dist/services/executor');
  dir = mkdtempSync(join(tmpdir(), 'airlock-fuzz-executor-'));
  const sshCa = generateCaKey('ed25519');
  const now = new Date();
  const mediatorCa = await createTierCa({ tier: 'mediator', now });
  executorCa = await createTierCa({ tier: 'executor', now });
  const config = writeConfig(sshCa, mediatorCa);
  executor = spawn(process.execPath, [built, '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: executor.stdout! }).on('line', (line) => {
      const match = /^ready port=(\d+)/.exec(line);
      if (match) resolve(Number(match[1]));
    });
    executor.once('exit', (code) => reject(new Error(`executor exited ${code} before ready`)));
  });
  const gateway = { sshCa, mediatorCa, executorCa, server: { port } } as unknown as Gateway;
  sessionS = await newSession(gateway, { scope: SCOPE, principal: 'alice' });
  await sessionS.client.openSession(sessionS.request);
  sessionT = await newSession(gateway, { scope: SCOPE, principal: 'alice' });
  // A signature over other data than the request carries: T can never open.
  sessionT.request.auth_signed_data = Buffer.concat([sessionT.request.auth_signed_data, Buffer.from('x')]);
  rawA = rawClient(sessionS);
  rawB = rawClient(sessionT);

  const service = loadExecutorService().service;
  const encode = (method: string, message: unknown) =>
    (service[method]!.requestSerialize as (value: unknown) => Buffer)(message);
  const target = { namespace: NAMESPACE, pod: 'api-0', container: 'main' };
  seeds.OpenSession = [encode('OpenSession', sessionT.request)];
  seeds.Get = [encode('Get', { kind: 'pods', namespace: NAMESPACE, name: 'api-0' })];
  seeds.List = [encode('List', { kind: 'pods', namespace: NAMESPACE })];
  seeds.Logs = [encode('Logs', { target, follow: true, since_seconds: 10, tail_lines: 5, timestamps: true })];
  seeds.Exec = [
    encode('Exec', { start: { target, argv: ['cat', '/etc/shadow'], tty: false, shell: false } }),
    encode('Exec', { start: { target, argv: [], tty: true, shell: true, size: { width: 80, height: 24 } } }),
    encode('Exec', { stdin: Buffer.from('hello') }),
    encode('Exec', { resize: { width: 1, height: 1 } }),
  ];
  seeds.Debug = [encode('Debug', { debug: { target, image: 'busybox:1.36', argv: ['sh'], tty: true } })];
  seeds.PortForward = [
    encode('PortForward', { start: { target, port: 8080 } }),
    encode('PortForward', { data: Buffer.from('GET / HTTP/1.0\r\n\r\n') }),
  ];
}, 60_000);

afterAll(async () => {
  rawA?.close();
  rawB?.close();
  sessionS?.client.close();
  sessionT?.client.close();
  if (executor && executor.exitCode === null) {
    const exited = new Promise((resolve) => executor.once('exit', resolve));
    executor.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const raw = (b: Buffer) => b;

interface Outcome {
  code: grpc.status;
  details: string;
  /** The executor's stable code from trailing metadata; absent when grpc-js refused the bytes itself. */
  airlockCode: string | undefined;
}

function outcomeOf(status: Partial<grpc.StatusObject>): Outcome {
  const airlockCode = status.metadata?.get(CODE_METADATA_KEY)[0];
  return {
    code: status.code ?? grpc.status.OK,
    details: status.details ?? '',
    airlockCode: typeof airlockCode === 'string' ? airlockCode : undefined,
  };
}

/** Sends `bytes` as the request message of `method`; resolves with how the call ended. */
function call(method: string, bytes: Buffer): Promise<Outcome> {
  const client = method === 'OpenSession' ? rawB : rawA;
  const metadata = new grpc.Metadata();
  metadata.set(SESSION_METADATA_KEY, method === 'OpenSession' ? sessionT.id : sessionS.id);
  const path = `/airlock.v1.Executor/${method}`;
  const options = { deadline: new Date(Date.now() + DEADLINE_MS) };
  return new Promise((resolve) => {
    switch (METHODS[method]) {
      case 'unary':
        client.makeUnaryRequest(path, raw, raw, bytes, metadata, options, (error) =>
          resolve(outcomeOf(error ?? { code: grpc.status.OK })),
        );
        return;
      case 'server-stream': {
        const stream = client.makeServerStreamRequest(path, raw, raw, bytes, metadata, options);
        stream.on('data', () => {});
        stream.on('error', () => {});
        stream.on('status', (status: grpc.StatusObject) => resolve(outcomeOf(status)));
        return;
      }
      default: {
        const stream = client.makeBidiStreamRequest(path, raw, raw, metadata, options);
        stream.on('data', () => {});
        stream.on('error', () => {});
        stream.on('status', (status: grpc.StatusObject) => resolve(outcomeOf(status)));
        stream.write(bytes);
        stream.end();
      }
    }
  });
}

interface TrailEvent {
  type: string;
  event: string;
  session_id?: string;
}

function trail(): TrailEvent[] {
  return readFileSync(join(dir, 'executor.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TrailEvent)
    .filter((e) => e.type === 'event');
}

describe('fuzz: the executor decoding malformed gRPC requests', () => {
  it('every mutated or random request message ends with a non-OK status, the process lives, nothing is authorised', async () => {
    const input = fc
      .constantFrom(...Object.keys(METHODS))
      .chain((method) => mutatedBytes(seeds[method]!).map((bytes) => ({ method, bytes })));
    const seen = new Map<string, number>();
    await fuzz(
      'executor gRPC request decoding',
      fc.asyncProperty(input, async ({ method, bytes }) => {
        const outcome = await call(method, bytes);
        const key =
          outcome.airlockCode ?? `${grpc.status[outcome.code]} (grpc-js: ${outcome.details.slice(0, 30)})`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        expect({ method, code: outcome.code }).not.toEqual({ method, code: grpc.status.OK });
        expect({ method, code: outcome.code }).not.toEqual({ method, code: grpc.status.DEADLINE_EXCEEDED });
        // A clean refusal: the executor's own code, or grpc-js rejecting bytes that are not the
        // message. Never the executor's INTERNAL, which is what an unexpected exception becomes.
        if (outcome.airlockCode !== undefined)
          expect({ method, ...outcome }).not.toMatchObject({ airlockCode: 'INTERNAL' });
        else
          expect({ method, ...outcome }).toMatchObject({
            code: grpc.status.INTERNAL,
            details: expect.stringMatching(/deserializ/i),
          });
      }),
      0.5,
    );
    process.stdout.write(`  outcomes: ${[...seen].map(([key, n]) => `${key} ${n}`).join(', ')}\n`);
    // Alive and still serving: session S answers a proper call.
    expect(executor.exitCode).toBe(null);
    // CloseSession answers with the executor's latest checkpoint head (witnessed checkpoints).
    await expect(sessionS.client.closeSession()).resolves.toEqual(expect.any(String));
    const events = trail();
    expect(events.filter((e) => e.event === 'intent.allowed')).toEqual([]);
    expect(events.filter((e) => e.event === 'session.opened').map((e) => e.session_id)).toEqual([
      sessionS.id,
    ]);
    // Most inputs are refused by the executor's own checks, not just by protobuf decoding.
    expect(
      events.filter((e) => e.event === 'intent.denied' || e.event === 'auth.denied').length,
    ).toBeGreaterThan(0);
  });
});
