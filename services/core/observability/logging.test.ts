import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../errors.js';
import { createLogger, type LoggerOptions, logEntryWriter, REDACT_PATHS } from './logging.js';
import { startTelemetry, type Telemetry } from './telemetry.js';

/** A logger whose lines are kept raw (to count keys) and parsed. */
function capture(options: Partial<LoggerOptions> = {}) {
  const raw: string[] = [];
  const logger = createLogger({
    tier: 'test',
    ...options,
    destination: { write: (line: string) => void raw.push(line) },
  });
  const lines = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, raw, lines };
}

describe('createLogger', () => {
  it('writes pino lines with the tier, the level as a number and the message as msg', () => {
    const { logger, lines } = capture();
    logger.warn({ code: 'AUDIT_UNAVAILABLE' }, 'audit sink slow');
    expect(lines()).toEqual([
      expect.objectContaining({ tier: 'test', level: 40, msg: 'audit sink slow', code: 'AUDIT_UNAVAILABLE' }),
    ]);
  });

  it('honours the logLevel setting: below it nothing is written', () => {
    const { logger, lines } = capture({ level: 'warn' });
    logger.info('not written');
    logger.debug('not written either');
    logger.error('written');
    expect(lines().map((line) => [line.level, line.msg])).toEqual([[50, 'written']]);
  });

  it('serialises err with type, message, stack and the cause behind an AirlockError', () => {
    const { logger, lines } = capture();
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:6443');
    logger.error(
      { err: new AirlockError('KUBERNETES_UNAVAILABLE', 'the API server did not answer', { cause }) },
      'intent failed',
    );
    const err = lines()[0]?.err as Record<string, unknown>;
    expect(err).toMatchObject({ type: 'AirlockError', code: 'KUBERNETES_UNAVAILABLE' });
    expect(err.message).toBe('the API server did not answer');
    expect(String(err.stack)).toContain('logging.test.ts');
    expect(err.cause).toMatchObject({ type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:6443' });
  });

  it.each([
    ['token at the top level', { token: 'sekrit' }],
    ['a token one object down', { request: { token: 'sekrit' } }],
    ['a private key PEM', { key: { privateKeyPem: 'sekrit' } }],
    ['an Authorization header', { headers: { authorization: 'Bearer sekrit' } }],
    ["a request's Authorization header", { req: { headers: { authorization: 'Bearer sekrit' } } }],
    ['an OIDC id_token', { oidc: { id_token: 'sekrit' } }],
    ['a client secret', { client_secret: 'sekrit' }],
  ])('redacts %s', (_, fields) => {
    const { logger, raw } = capture();
    logger.info(fields, 'line');
    expect(raw.join('')).not.toContain('sekrit');
    expect(raw.join('')).toContain('[redacted]');
  });

  it('has one redact list, covering what each tier redacted before (executor tokens, broker authorization)', () => {
    expect(REDACT_PATHS).toEqual(
      expect.arrayContaining(['*.privateKey', '*.privateKeyPem', '*.token', '*.authorization']),
    );
  });

  describe('inside a span', () => {
    let telemetry: Telemetry;
    // The global context manager a tier installs in production (main.ts: startTelemetry).
    beforeAll(() => {
      telemetry = startTelemetry({ serviceName: 'airlock-test' });
    });
    afterAll(() => telemetry.shutdown());

    it('adds trace_id and span_id of the active span to every line, and none outside it', () => {
      const { logger, lines } = capture();
      const child = logger.child({ component: 'test.component' });
      logger.info('before');
      const ids = telemetry.tracer.startActiveSpan('work', (span) => {
        logger.info('inside');
        child.warn('inside, child logger');
        span.end();
        return span.spanContext();
      });
      logger.info('after');
      const [before, inside, insideChild, after] = lines();
      expect(before).not.toHaveProperty('trace_id');
      expect(after).not.toHaveProperty('span_id');
      for (const line of [inside, insideChild]) {
        expect(line).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
      }
      expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(trace.getActiveSpan()).toBeUndefined();
    });
  });
});

describe('logEntryWriter (the broker components log entries)', () => {
  it('writes an entry at its own level with message as msg: one level key, no message key', () => {
    const { logger, raw, lines } = capture();
    const log = logEntryWriter(logger);
    log({ level: 'error', message: 'expiry sweep failed', request_id: 'req_1' });
    expect(raw[0]?.match(/"level":/g)).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: 50, msg: 'expiry sweep failed', request_id: 'req_1' });
    expect(lines()[0]).not.toHaveProperty('message');
  });

  it('defaults to info, and logs an unknown level at error rather than dropping it', () => {
    const { logger, lines } = capture();
    const log = logEntryWriter(logger);
    log({ message: 'request created' });
    log({ level: 'critical', message: 'odd level' });
    expect(lines().map((line) => [line.level, line.msg])).toEqual([
      [30, 'request created'],
      [50, 'odd level'],
    ]);
  });

  it('serialises an err field', () => {
    const { logger, lines } = capture();
    logEntryWriter(logger)({ level: 'warn', message: 'webhook failed', err: new Error('HTTP 500') });
    expect(lines()[0]?.err).toMatchObject({ type: 'Error', message: 'HTTP 500' });
  });
});
