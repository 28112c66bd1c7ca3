/**
 * The one operator-log setup every tier uses: pino with the tier name, the
 * configured level, one redact list, error serialisation with causes, and the
 * active span's ids on every line written inside a span, so a log line joins
 * the trace and the audit records that carry the same `trace_id`
 * (docs/telemetry.md). Built once in each tier's composition root (main.ts).
 *
 * The audit trail is separate (services/core/audit): typed, signed, fsynced
 * records, not log lines.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The levels the `logLevel` setting accepts (services/core/service/config-file.ts), most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const satisfies Level[];
export type LogLevel = (typeof LOG_LEVELS)[number];

const SECRET_KEYS = [
  'privateKey',
  'privateKeyPem',
  'token',
  'authorization',
  'password',
  'client_secret',
  'access_token',
  'id_token',
  'refresh_token',
];

/**
 * Paths whose values never reach a log: secrets at the top level of a line
 * and one object down (`{ request: { token } }`), and an HTTP request's
 * Authorization header. pino replaces the value with `[redacted]`.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  'headers.authorization',
  '*.headers.authorization',
];

/**
 * `trace_id` and `span_id` of the span active in the calling context (the
 * OpenTelemetry context the tier's AsyncLocalStorage context manager keeps),
 * or nothing outside a span. pino calls it for every line.
 */
export function activeSpanFields(): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

export interface LoggerOptions {
  /** `broker`, `mediator`, `executor`: the `tier` field of every line. */
  readonly tier: string;
  /** The tier config's `logLevel`; default info. `silent`: tests that run a tier in-process. */
  readonly level?: LogLevel | 'silent';
  /** Where lines go; default stdout. Tests pass a stream they read. */
  readonly destination?: DestinationStream;
}

/** The tier's root logger; components take `logger.child({ component })`. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { tier: options.tier },
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      // errWithCause: an AirlockError's cause (the library error behind it) is logged too.
      serializers: { err: pino.stdSerializers.errWithCause },
      mixin: activeSpanFields,
    },
    options.destination,
  );
}

/**
 * An operator log entry as the broker's components hand it over (a seam tests
 * replace with an array): `level` (default info), `message`, an optional `err`
 * and any other fields.
 */
export type LogEntry = Record<string, unknown>;

/**
 * Writes entries through `logger` at their own level, with `message` as pino's
 * `msg` and `err` serialised, instead of one info line with a second `level`
 * key. An unknown level is logged at error, so it is not lost.
 */
export function logEntryWriter(logger: Logger): (entry: LogEntry) => void {
  return ({ level, message, ...fields }) => {
    const method: LogLevel =
      level === undefined ? 'info' : LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'error';
    logger[method](fields, typeof message === 'string' ? message : undefined);
  };
}
