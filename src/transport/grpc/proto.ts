// Owns finding and loading the repository's .proto files at run time (no generated code, no protoc).
//
// Loader options, used for every proto in the project so that both ends of a call agree on shapes:
//   keepCase: true   field names stay snake_case exactly as written in the .proto (`from_node`), so a reader
//                    can grep the proto for a field seen in code;
//   longs: String    64-bit integers arrive as decimal strings (lossless); convert with u64ToNumber /
//                    numberToU64 where a JS number is wanted. Senders may pass numbers or strings;
//   enums: String    enum values arrive as their names, which read well in logs and JSON;
//   defaults: true   absent scalar fields arrive as their zero value instead of undefined;
//   oneofs: true     a oneof arrives with a virtual field naming the member that is set;
//   bytes            arrive as Buffer (a Uint8Array), the proto-loader default.
//
// The proto root is the repository's `proto/` folder. It is found by walking up from this file's location
// until a folder containing `proto/nokv` appears, so the same code works from `src/` and from `dist/src/` in
// any checkout. NOKV_PROTO_DIR overrides the search (useful when the code is installed elsewhere).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { InvalidArgumentError } from '../../common/errors.js';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** How far up from this file the search for `proto/nokv` goes before giving up. */
const MAX_PROTO_SEARCH_DEPTH = 8;

let cachedRoot: string | undefined;

/** Absolute path of the repository's `proto/` folder. */
export function protoRoot(): string {
  if (process.env.NOKV_PROTO_DIR) return resolve(process.env.NOKV_PROTO_DIR);
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_PROTO_SEARCH_DEPTH; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'nokv'))) {
      cachedRoot = candidate;
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`cannot find the proto/ folder above ${fileURLToPath(import.meta.url)}; set NOKV_PROTO_DIR`);
}

export interface LoadedProto {
  /** Path relative to the proto root, e.g. `nokv/raft/v1/transport.proto`. */
  readonly path: string;
  readonly packageDefinition: protoLoader.PackageDefinition;
  readonly grpcObject: grpc.GrpcObject;
  /** The service definition for a fully qualified name, e.g. `nokv.raft.v1.RaftTransport`. */
  service(fullName: string): grpc.ServiceDefinition;
  /** A client constructor for a fully qualified service name. */
  clientConstructor(fullName: string): grpc.ServiceClientConstructor;
}

const loaded = new Map<string, LoadedProto>();
/** Which package definition a service came from, so a server can offer reflection for what it serves. */
const packageOfService = new WeakMap<grpc.ServiceDefinition, protoLoader.PackageDefinition>();

/** Loads (once per process) a proto file given its path under the proto root. */
export function loadProto(relativePath: string): LoadedProto {
  const hit = loaded.get(relativePath);
  if (hit) return hit;
  const root = protoRoot();
  const packageDefinition = protoLoader.loadSync(relativePath, { ...PROTO_LOADER_OPTIONS, includeDirs: [root] });
  const grpcObject = grpc.loadPackageDefinition(packageDefinition);
  const result: LoadedProto = {
    path: relativePath,
    packageDefinition,
    grpcObject,
    service: (fullName) => clientConstructorIn(grpcObject, fullName, relativePath).service,
    clientConstructor: (fullName) => clientConstructorIn(grpcObject, fullName, relativePath),
  };
  for (const value of Object.values(grpcObject)) collectServices(value, packageDefinition);
  loaded.set(relativePath, result);
  return result;
}

/** The package definition a service was loaded from (undefined for hand-made service definitions). */
export function packageDefinitionOf(service: grpc.ServiceDefinition): protoLoader.PackageDefinition | undefined {
  return packageOfService.get(service);
}

function clientConstructorIn(obj: grpc.GrpcObject, fullName: string, file: string): grpc.ServiceClientConstructor {
  let node: unknown = obj;
  for (const part of fullName.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'function' || !('service' in node)) {
    throw new InvalidArgumentError(`service ${fullName} is not defined in ${file}`);
  }
  return node as grpc.ServiceClientConstructor;
}

function collectServices(node: unknown, pkg: protoLoader.PackageDefinition): void {
  if (typeof node === 'function' && 'service' in node) {
    packageOfService.set((node as grpc.ServiceClientConstructor).service, pkg);
    return;
  }
  if (node && typeof node === 'object' && !('format' in node)) {
    for (const child of Object.values(node)) collectServices(child, pkg);
  }
}

/** A uint64/int64 field (string under longs: String) as a JS number; asserts it is exactly representable. */
export function u64ToNumber(v: string | number | bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`64-bit value ${String(v)} exceeds 2^53`);
  return n;
}

/** A JS number for a uint64/int64 field; decimal strings keep every bit. */
export function numberToU64(n: number | bigint): string {
  return typeof n === 'bigint' ? n.toString() : String(Math.trunc(n));
}
