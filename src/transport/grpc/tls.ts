// Owns the TLS credentials of the process: the one place every gRPC server and client (role servers, the raft
// transport, coordinator / meta-root / store clients, fsmeta adapters, the CLI) gets its credentials from.
// A process has one identity: a certificate signed by the cluster CA, named after the process (`store-2`,
// `meta-root-1`, `coordinator-3`, `fsmeta-1`, or `client` for tools). With TLS on, servers require a client
// certificate from the same CA (mutual TLS), and the raft transport checks that a peer's certificate names the
// node it claims to be. Without useTls(), everything is plaintext, as before.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '../../common/errors.js';

/** Files of a TLS dir: `ca.crt`, and `<name>.crt` / `<name>.key` per identity. */
export interface TlsMaterial {
  /** The identity this process presents (its certificate's common name). */
  name: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export const CA_CERT_FILE = 'ca.crt';
/** The identity of tools and test clients (nokv mount, nokv config, benchmarks). */
export const CLIENT_TLS_NAME = 'client';

/** Reads the CA and `name`'s certificate and key from `dir`; a missing file is a one-line error. */
export function loadTlsMaterial(dir: string, name: string): TlsMaterial {
  const read = (file: string) => {
    try {
      return readFileSync(join(dir, file));
    } catch (err) {
      throw new InvalidArgumentError(`cannot read TLS file ${join(dir, file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { name, ca: read(CA_CERT_FILE), cert: read(`${name}.crt`), key: read(`${name}.key`) };
}

let processTls: TlsMaterial | undefined;

/** Turns TLS on (or off, with undefined) for every server and client this process creates from now on. */
export function useTls(material: TlsMaterial | undefined): void {
  processTls = material;
}

/** The process's TLS material, if TLS is on. */
export function currentTls(): TlsMaterial | undefined {
  return processTls;
}

/** Credentials for a client channel: mutual TLS with the process's certificate, or plaintext. */
export function channelCredentials(tls: TlsMaterial | undefined = processTls): grpc.ChannelCredentials {
  return tls ? grpc.credentials.createSsl(tls.ca, tls.key, tls.cert) : grpc.credentials.createInsecure();
}

/** Credentials for a server: TLS that requires a client certificate from the cluster CA, or plaintext. */
export function serverCredentials(tls: TlsMaterial | undefined = processTls): grpc.ServerCredentials {
  return tls ? grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true) : grpc.ServerCredentials.createInsecure();
}

/**
 * The common name of the verified client certificate of a call, or undefined on a plaintext connection. (The
 * server only completes a TLS handshake with a certificate the cluster CA signed.)
 */
export function peerCertName(call: { getAuthContext(): PeerAuth | null }): string | undefined {
  const ctx = call.getAuthContext();
  if (ctx?.transportSecurityType !== 'ssl') return undefined;
  const cn: unknown = ctx.sslPeerCertificate?.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}

/** The part of grpc-js's AuthContext (not exported by the package) read here. */
interface PeerAuth {
  transportSecurityType?: string;
  sslPeerCertificate?: { subject?: object & { CN?: unknown } };
}
