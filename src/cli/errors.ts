// Owns how a failed command reads: one line, whatever failed under it. gRPC's own texts carry resolver notes and
// multi-line details meant for its developers; they are cut down to what a person can act on.
/** Longest error line printed; the rest is noise for a terminal (full errors stay in the role logs). */
const MAX_CHARS = 400;

export function oneLine(e: unknown): string {
  let msg = e instanceof Error ? e.message : String(e);
  msg = msg
    .replace(/\s*Resolution note:.*$/s, '') // grpc-js: name resolution trivia
    .replace(/^\d+ [A-Z_]+: /, '') // grpc-js: "14 UNAVAILABLE: " before the details
    .replace(/\s+/g, ' ')
    .trim();
  return msg.length > MAX_CHARS ? `${msg.slice(0, MAX_CHARS)}…` : msg;
}
