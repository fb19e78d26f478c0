// Owns the YAML the deployment generators print: block mappings and sequences, flow style for short lists of
// scalars (a command line on one line), plain scalars where YAML reads them back as the same string, and JSON
// double-quoted scalars everywhere else (JSON strings are valid YAML). Only plain data: no anchors, no tags.

type Value = string | number | boolean | null | undefined | Value[] | { [k: string]: Value };

/** Words YAML 1.1 or 1.2 would read as something other than a string. */
const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~|[-+]?(?:\.inf|\.nan)|[-+]?[0-9][0-9_.:eExXoObB+-]*)$/i;
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./@=-]*$/;

export function scalar(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} as YAML`);
    return String(v);
  }
  if (typeof v === 'boolean') return String(v);
  return PLAIN.test(v) && !RESERVED.test(v) ? v : JSON.stringify(v);
}

const isScalar = (v: Value): v is string | number | boolean | null | undefined => v === null || typeof v !== 'object';
const FLOW_MAX = 320;

function block(v: Value, indent: string): string[] {
  if (Array.isArray(v)) {
    if (v.length === 0) return ['[]'];
    return v.flatMap((item) => {
      if (isScalar(item)) return [`${indent}- ${scalar(item)}`];
      const inner = block(item, `${indent}  `);
      if (inner.length === 1 && !inner[0]!.startsWith(indent)) return [`${indent}- ${inner[0]}`];
      return [`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1)];
    });
  }
  if (isScalar(v)) return [scalar(v)];
  const entries = Object.entries(v).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return ['{}'];
  return entries.flatMap(([k, x]) => {
    const key = `${indent}${scalar(k)}:`;
    if (isScalar(x)) return [`${key} ${scalar(x)}`];
    if (Array.isArray(x) && x.length > 0 && x.every(isScalar)) {
      const flow = `[${x.map((s) => JSON.stringify(s)).join(', ')}]`;
      if (flow.length + key.length <= FLOW_MAX) return [`${key} ${flow}`];
    }
    const inner = block(x, Array.isArray(x) ? indent : `${indent}  `);
    if (inner.length === 1 && (inner[0] === '[]' || inner[0] === '{}')) return [`${key} ${inner[0]}`];
    return [key, ...inner];
  });
}

/** One YAML document. */
export function toYaml(v: Value): string {
  return `${block(v, '').join('\n')}\n`;
}

/** Several documents in one stream (`---` between them), as kubectl apply reads them. */
export function toYamlDocuments(docs: Value[]): string {
  return docs.map(toYaml).join('---\n');
}

export type YamlValue = Value;
