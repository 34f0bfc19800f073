// RFC 8785 (JCS) canonical JSON, for the values an audit entry holds: null, booleans,
// finite numbers, strings, arrays and objects. The same bytes as the service's
// audit_trail.core.integrity.canonical (tested against Python's rfc8785 package).
//
// ECMAScript is JCS's reference: numbers are written as Number.prototype.toString
// writes them (JSON.stringify does the same, and -0 as 0), strings escaped as
// JSON.stringify escapes them, and object members ordered by the UTF-16 code units of
// their names, which is how String comparison orders them.

const LONE_SURROGATE = /\p{Surrogate}/u;

export class CanonicalError extends Error {}

export function canonicalize(value) {
  const out = [];
  write(value, out);
  return out.join("");
}

export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalize(value));
}

function write(value, out) {
  if (value === null) {
    out.push("null");
  } else if (typeof value === "boolean") {
    out.push(value ? "true" : "false");
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new CanonicalError(`${value} has no JSON form`);
    out.push(JSON.stringify(value));
  } else if (typeof value === "string") {
    out.push(string(value));
  } else if (Array.isArray(value)) {
    out.push("[");
    value.forEach((item, position) => {
      if (position) out.push(",");
      write(item, out);
    });
    out.push("]");
  } else if (typeof value === "object") {
    const keys = Object.keys(value).sort(); // UTF-16 code unit order
    out.push("{");
    keys.forEach((key, position) => {
      if (position) out.push(",");
      out.push(string(key), ":");
      write(value[key], out);
    });
    out.push("}");
  } else {
    throw new CanonicalError(`${typeof value} is not a JSON value`);
  }
}

function string(text) {
  // a lone surrogate has no UTF-8 form (JSON.stringify would escape it; JCS refuses)
  if (LONE_SURROGATE.test(text)) throw new CanonicalError("string holds a lone surrogate");
  return JSON.stringify(text);
}
