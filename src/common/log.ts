// Owns logging. Every process has one pino root logger; every actor logs through a child bound to
// {role, node, actor} and, per message, {trace, span}; any other line logged while a traced request is being
// handled gets the request's {trace, span} too (trace-context.ts). JSON to stdout by default (synchronous, so nothing is lost
// when a worker thread or process exits); NOKV_LOG_LEVEL and NOKV_LOG_PRETTY=1 change that.
import { pino, type Logger, type DestinationStream } from 'pino';
import { traceMixin } from './trace-context.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  role: string;
  node?: string;
  level?: string;
  /** Human-readable single-line output instead of JSON. */
  pretty?: boolean;
  /** Where to write; defaults to synchronous stdout. Tests pass a capturing stream. */
  destination?: DestinationStream;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env.NOKV_LOG_LEVEL ?? 'info';
  if (!LEVELS.has(level)) throw new Error(`invalid log level "${level}" (one of ${[...LEVELS].join(', ')})`);
  const pretty = opts.pretty ?? process.env.NOKV_LOG_PRETTY === '1';
  const destination = opts.destination ?? pino.destination({ fd: 1, sync: true });
  const base: Record<string, unknown> = { role: opts.role };
  if (opts.node !== undefined) base.node = opts.node;
  return pino(
    {
      level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Lines logged while a request is being handled carry its trace (trace-context.ts).
      mixin: traceMixin,
    },
    pretty ? prettyStream(destination) : destination,
  );
}

/** One parsed JSON log line as a human line: `time LEVEL [role/node actor trace] msg {rest}`. */
export function formatPretty(entry: Record<string, unknown>): string {
  const { time, level, role, node, actor, trace, msg, ...rest } = entry;
  const who = [role, node].filter((x) => x !== undefined).join('/');
  const ctx = [who, actor, trace ? `trace=${String(trace)}` : undefined].filter(Boolean).join(' ');
  const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
  return `${String(time)} ${String(level).toUpperCase().padEnd(5)} [${ctx}] ${String(msg ?? '')}${extra}`;
}

/** A tiny dependency-free pretty printer over formatPretty. */
export function prettyStream(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      try {
        out.write(`${formatPretty(JSON.parse(line))}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

/** A logger that drops everything; for pure tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
