// Owns the small shape checker used for everything that enters rooted state from outside (events, commands,
// decoded snapshots). A Check throws InvalidArgumentError naming the offending path; callers that read durable
// bytes rewrap it as DataLossError. Kept tiny on purpose: plain functions, no reflection.
import { InvalidArgumentError } from '../../common/errors.js';
import { isU64 } from './u64.js';
import { isHexKey } from './keys.js';

export type Check = (v: unknown, path: string) => void;

/** Longest identifier string (store address, holder, mount, subject, authority) accepted anywhere. */
export const MAX_NAME_CHARS = 256;
/** Longest region key accepted, in bytes (hex strings are twice as long). */
export const MAX_KEY_BYTES = 4096;

function fail(path: string, what: string): never {
  throw new InvalidArgumentError(`malformed ${path}: expected ${what}`, { path });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export const uint: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(p, 'a safe unsigned integer');
};

export const posInt: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(p, 'a safe positive integer');
};

export const u64: Check = (v, p) => {
  if (!isU64(v)) fail(p, 'a canonical decimal u64 string');
};

export const hexKey: Check = (v, p) => {
  if (!isHexKey(v) || v.length > MAX_KEY_BYTES * 2) fail(p, `a lowercase hex key of at most ${MAX_KEY_BYTES} bytes`);
};

export const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') fail(p, 'a boolean');
};

/** Any string up to MAX_NAME_CHARS (may be empty). */
export const text: Check = (v, p) => {
  if (typeof v !== 'string' || v.length > MAX_NAME_CHARS) fail(p, `a string of at most ${MAX_NAME_CHARS} chars`);
};

const NAME = /^[A-Za-z0-9._:@/-]+$/;

/**
 * A non-empty identifier usable as a map key: printable, no spaces, and never a name that would reach the
 * prototype of a plain-object map.
 */
export const name: Check = (v, p) => {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME_CHARS || !NAME.test(v)) {
    fail(p, `a non-empty name of [A-Za-z0-9._:@/-], at most ${MAX_NAME_CHARS} chars`);
  }
  if (v === '__proto__' || v === 'constructor' || v === 'prototype') fail(p, 'a name that is not reserved');
};

export function literal(...values: readonly (string | number | null)[]): Check {
  return (v, p) => {
    if (!values.includes(v as string | number | null)) fail(p, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
  };
}

export function nullable(check: Check): Check {
  return (v, p) => {
    if (v !== null) check(v, p);
  };
}

export function optional(check: Check): Check {
  return (v, p) => {
    if (v !== undefined) check(v, p);
  };
}

export function array(check: Check, maxItems: number): Check {
  return (v, p) => {
    if (!Array.isArray(v) || v.length > maxItems) fail(p, `an array of at most ${maxItems} items`);
    v.forEach((item, i) => check(item, `${p}[${i}]`));
  };
}

/** An object with (at least) these fields; unknown fields are tolerated by the check and dropped by builders. */
export function object(fields: Record<string, Check>): Check {
  return (v, p) => {
    if (!isPlainObject(v)) fail(p, 'an object');
    for (const [k, check] of Object.entries(fields)) check(v[k], `${p}.${k}`);
  };
}

/** A plain-object map whose keys pass `key` and whose values pass `value`. */
export function record(key: Check, value: Check, maxEntries: number): Check {
  return (v, p) => {
    if (!isPlainObject(v)) fail(p, 'an object map');
    const keys = Object.keys(v);
    if (keys.length > maxEntries) fail(p, `at most ${maxEntries} entries`);
    for (const k of keys) {
      key(k, `${p} key ${JSON.stringify(k)}`);
      value(v[k], `${p}[${JSON.stringify(k)}]`);
    }
  };
}

/** Runs a check and returns the error instead of throwing it. */
export function tryCheck(check: Check, v: unknown, path: string): InvalidArgumentError | null {
  try {
    check(v, path);
    return null;
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err;
    throw err;
  }
}
