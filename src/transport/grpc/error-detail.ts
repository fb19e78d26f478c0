// Owns the codec of nokv.common.v1.ErrorDetail, the message in the `x-nokv-error-bin` trailer: a NokvError's
// name, code and message, and its details as one JSON text per key (so any language reads the keys it knows and
// parses only their values). Encoding never fails: a detail that JSON cannot hold (a BigInt, a cycle) travels as
// its string form. Decoding never throws: a trailer that is not a well-formed ErrorDetail is ignored and the
// caller falls back to the gRPC status.
import protobuf from 'protobufjs';
import type { SerializedError } from '../../common/errors.js';
import { join } from 'node:path';
import { protoRoot } from './proto.js';

export const COMMON_PROTO = 'nokv/common/v1/common.proto';

interface ErrorDetailMsg {
  name: string;
  code: string;
  message: string;
  details: Record<string, string>;
}

let type: protobuf.Type | undefined;

function errorDetailType(): protobuf.Type {
  type ??= protobuf.loadSync(join(protoRoot(), COMMON_PROTO)).lookupType('nokv.common.v1.ErrorDetail');
  return type;
}

function jsonText(v: unknown): string {
  try {
    const text = JSON.stringify(v);
    if (text !== undefined) return text;
  } catch {
    // fall through to the string form
  }
  return JSON.stringify(String(v));
}

export function encodeErrorDetail(err: SerializedError): Buffer {
  const details: Record<string, string> = {};
  for (const [k, v] of Object.entries(err.details ?? {})) details[k] = jsonText(v);
  const msg: ErrorDetailMsg = { name: err.name, code: err.code ?? 'INTERNAL', message: err.message ?? '', details };
  const t = errorDetailType();
  return Buffer.from(t.encode(t.fromObject(msg)).finish());
}

export function decodeErrorDetail(bytes: Uint8Array): SerializedError | undefined {
  let msg: ErrorDetailMsg;
  try {
    const t = errorDetailType();
    msg = t.toObject(t.decode(bytes), { defaults: true }) as ErrorDetailMsg;
  } catch {
    return undefined;
  }
  if (!msg.name || !msg.code) return undefined;
  const details: Record<string, unknown> = {};
  for (const [k, text] of Object.entries(msg.details ?? {})) {
    try {
      details[k] = JSON.parse(text);
    } catch {
      details[k] = text;
    }
  }
  return { name: msg.name, code: msg.code as SerializedError['code'], message: msg.message, details };
}
