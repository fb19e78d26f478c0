// Owns command-line parsing for every `nokv` subcommand: declared flags only, typed values, one-line errors.
// A usage error is a UsageError; main() prints it on one line and exits 2.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagType = 'string' | 'int' | 'bool' | 'list' | 'duration';

export interface FlagSpec {
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  required?: boolean;
  /** For int/duration: inclusive bounds. */
  min?: number;
  max?: number;
  short?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface Parsed {
  flags: FlagValues;
  positionals: string[];
  /** Flags the user actually gave (so config files can fill in only the rest). */
  given: Set<string>;
}

/** Parses "250ms", "2s", "1m" or a bare number of milliseconds into milliseconds. */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid duration "${text}" (use e.g. 500ms, 2s, 1m)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  return Math.round(unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60000);
}

function convert(name: string, spec: FlagSpec, raw: string): string | number | boolean | string[] {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'bool':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new UsageError(`--${name} takes true or false, not "${raw}"`);
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} takes an integer, not "${raw}"`);
      const n = Number(raw);
      checkBounds(name, spec, n);
      return n;
    }
    case 'duration': {
      let n: number;
      try {
        n = parseDurationMs(raw);
      } catch (e) {
        throw new UsageError(`--${name}: ${(e as Error).message}`);
      }
      checkBounds(name, spec, n);
      return n;
    }
  }
}

function checkBounds(name: string, spec: FlagSpec, n: number): void {
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} is out of range`);
  if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${name} must be at least ${spec.min}`);
  if (spec.max !== undefined && n > spec.max) throw new UsageError(`--${name} must be at most ${spec.max}`);
}

export function parseFlags(argv: string[], specs: FlagSpecs): Parsed {
  const flags: FlagValues = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) byShort.set(spec.short, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      const short = byShort.get(arg.slice(1));
      if (!short) throw new UsageError(`unknown flag ${arg}`);
      name = short;
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    let raw = inline;
    if (raw === undefined) {
      if (spec.type === 'bool') raw = 'true';
      else {
        raw = argv[++i];
        if (raw === undefined) throw new UsageError(`--${name} needs a value`);
      }
    }
    flags[name] = convert(name, spec, raw);
    given.add(name);
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (flags[name] === undefined && spec.default !== undefined) flags[name] = spec.default;
    if (spec.required && flags[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return { flags, positionals, given };
}

export function formatFlagHelp(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `  ${s.short ? `-${s.short}, ` : ''}--${name}${s.type === 'bool' ? '' : ` <${s.type}>`}`;
    const def = s.default !== undefined && s.default !== '' ? ` (default ${Array.isArray(s.default) ? s.default.join(',') : s.default})` : '';
    return `${left.padEnd(34)} ${s.help}${s.required ? ' (required)' : ''}${def}`;
  });
  return rows.join('\n');
}
