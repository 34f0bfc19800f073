// In-browser verification of entries against the tenant's signed log (DESIGN.md,
// "Integrity"), with WebCrypto only: SHA-256 and Ed25519. A port of the checks of
// audit_trail.verify.evidence: the entry as shown ⇄ its salts ⇄ the field digests ⇄
// the leaf ⇄ its RFC 9162 inclusion proof ⇄ a checkpoint whose signature verifies.

import { canonicalBytes } from "./jcs.js";

const FIELD_DOMAIN = "audit-trail:field:v1";
const ED25519 = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";
const encoder = new TextEncoder();

export class VerifyError extends Error {}

export function fromBase64(text, what = "base64") {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
    throw new VerifyError(`${what} is not base64`);
  }
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

export function toBase64(bytes) {
  let raw = "";
  for (const byte of bytes) raw += String.fromCharCode(byte);
  return btoa(raw);
}

function concat(...parts) {
  const size = parts.reduce((n, part) => n + part.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// RFC 9162 §2.1: leaf = H(0x00 ‖ leaf bytes), node = H(0x01 ‖ left ‖ right)
export const leafHash = (bytes) => sha256(concat(Uint8Array.of(0), bytes));
const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

/** The root an RFC 9162 §2.1.3.2 inclusion proof gives for a leaf hash at index of a
 * tree of size leaves. Arithmetic, not bit operators: sizes pass 2**32. */
export async function rootFromInclusion(hash, index, size, proof) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new VerifyError(`leaf index ${index} is not below the tree size ${size}`);
  }
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of proof) {
    if (p.length !== 32) throw new VerifyError("a proof element is not 32 bytes");
    if (sn === 0) throw new VerifyError("the inclusion proof is longer than the path to the root");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn !== 0 && fn % 2 === 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new VerifyError("the inclusion proof is shorter than the path to the root");
  return r;
}

async function keyId(name, publicKey) {
  const digest = await sha256(concat(encoder.encode(`${name}\n`), Uint8Array.of(ED25519), publicKey));
  return digest.slice(0, 4);
}

function checkName(name) {
  if (!name || name.includes("+") || /\s/.test(name)) throw new VerifyError(`${name} is not a key name`);
}

/** A signed-note verifier key, <name>+<8 hex key id>+<base64(0x01 ‖ public key)>,
 * checked (its id must be the one its name and key give). */
export async function parseVkey(text) {
  const first = text.indexOf("+");
  const second = text.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new VerifyError("a verifier key is <name>+<key id>+<key>");
  const name = text.slice(0, first);
  const hexId = text.slice(first + 1, second);
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new VerifyError("a verifier key id is 8 lowercase hex digits");
  const key = fromBase64(text.slice(second + 1), "the verifier key");
  if (key.length !== 33 || key[0] !== ED25519) throw new VerifyError("not an Ed25519 verifier key");
  const publicKey = key.slice(1);
  const id = await keyId(name, publicKey);
  if (Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("") !== hexId) {
    throw new VerifyError("the verifier key's id does not match its name and key");
  }
  const cryptoKey = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  return { name, keyId: id, publicKey, cryptoKey };
}

/** The vkey of a /log/key answer, once its name, public_key and vkey agree. */
export async function servedVkey(document) {
  const { name, public_key: publicKey, vkey } = document ?? {};
  if (typeof name !== "string" || typeof vkey !== "string") throw new VerifyError("/log/key has no name or vkey");
  const raw = fromBase64(publicKey, "public_key");
  const id = await keyId(name, raw);
  const hex = Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
  if (vkey !== `${name}+${hex}+${toBase64(concat(Uint8Array.of(ED25519), raw))}`) {
    throw new VerifyError("/log/key serves a vkey its name and key do not give");
  }
  return vkey;
}

/** A C2SP signed note split into its text and signature lines (nothing verified). */
export function parseSignedNote(text) {
  if (/[\x00-\x09\x0b-\x1f]/.test(text)) throw new VerifyError("a note holds control characters");
  const split = text.lastIndexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) throw new VerifyError("a signed note ends with its signatures");
  const body = text.slice(0, split + 1);
  const signatures = text
    .slice(split + 2, -1)
    .split("\n")
    .map((line) => {
      if (!line.startsWith(SIGNATURE_PREFIX)) throw new VerifyError("a signature line starts with an em dash");
      const rest = line.slice(SIGNATURE_PREFIX.length);
      const space = rest.indexOf(" ");
      if (space < 0) throw new VerifyError("a signature line is '— <key name> <base64>'");
      const raw = fromBase64(rest.slice(space + 1), "a signature");
      if (raw.length <= 4) throw new VerifyError("a signature is a key id and a signature");
      return { name: rest.slice(0, space), keyId: raw.slice(0, 4), signature: raw.slice(4) };
    });
  return { body, signatures };
}

/** origin, tree size and root of a checkpoint note text (extension lines ignored). */
export function parseCheckpoint(body) {
  const [origin, size, root] = body.slice(0, -1).split("\n");
  if (!origin || root === undefined) throw new VerifyError("a checkpoint has an origin, a size and a root");
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new VerifyError("a checkpoint's tree size is a decimal number");
  }
  const rootHash = fromBase64(root, "the root hash");
  if (rootHash.length !== 32) throw new VerifyError("a checkpoint root is 32 bytes");
  return { origin, size: Number(size), root: rootHash };
}

/** The checkpoint of a signed note once every signature by verifier (a parsed vkey)
 * verifies, and there is one. */
export async function verifyCheckpoint(note, verifier) {
  const { body, signatures } = parseSignedNote(note);
  const mine = signatures.filter((s) => s.name === verifier.name && equal(s.keyId, verifier.keyId));
  if (!mine.length) throw new VerifyError(`the checkpoint carries no signature by ${verifier.name}`);
  const text = encoder.encode(body);
  for (const { signature } of mine) {
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, verifier.cryptoKey, signature, text))) {
      throw new VerifyError("the checkpoint signature does not verify");
    }
  }
  return parseCheckpoint(body);
}

const PARTS = [
  ["actor", ["id", "type", "name"]],
  ["target", ["type", "id", "name"]],
  ["source", ["ip", "user_agent"]],
];

/** The committed paths of an entry as served, with their values as served. */
export function renderedFields(entry) {
  const fields = {};
  for (const name of ["action", "outcome", "occurred_at"]) {
    if (entry[name] !== undefined && entry[name] !== null) fields[name] = entry[name];
  }
  for (const [group, parts] of PARTS) {
    const members = entry[group] ?? {};
    for (const part of parts) {
      if (members[part] !== undefined && members[part] !== null) fields[`${group}.${part}`] = members[part];
    }
  }
  if (entry.tags !== undefined && entry.tags !== null) fields.tags = entry.tags;
  for (const [key, value] of Object.entries(entry.metadata ?? {})) fields[`metadata.${key}`] = value;
  return fields;
}

export async function fieldDigest(path, salt, value) {
  const prefix = encoder.encode(`${FIELD_DOMAIN}\0${path}\0`);
  return sha256(concat(prefix, salt, canonicalBytes(value)));
}

function kindOf(entry) {
  if (entry.deleted === true) return "delete";
  return entry.revision === 1 ? "record" : "amend";
}

/** Check one revision (entry as shown) against its /proof answer and a checkpoint
 * whose signature was verified. Returns {withheld: [paths shown only as digests]};
 * throws VerifyError saying what does not hold. */
export async function verifyEntry(entry, proof, checkpoint) {
  if (proof.tree_size !== checkpoint.size) throw new VerifyError("the proof is for another tree size");
  if (typeof entry.tenant !== "string" || !checkpoint.origin.endsWith(`/${entry.tenant}`)) {
    throw new VerifyError("the entry's tenant does not own this log");
  }
  const served = proof.leaf ?? {};
  const digests = served.fields ?? {};
  const salts = proof.salts ?? {};
  const values = renderedFields(entry);
  const uncommitted = Object.keys(values).filter((p) => !(p in salts) && !(p in digests));
  if (uncommitted.length) throw new VerifyError(`shows fields the log does not commit: ${uncommitted.join(", ")}`);
  const fields = {};
  for (const [path, value] of Object.entries(values)) {
    if (path in salts) fields[path] = toBase64(await fieldDigest(path, fromBase64(salts[path], "a salt"), value));
  }
  const withheld = Object.keys(digests).filter((path) => !(path in fields)).sort();
  for (const path of withheld) fields[path] = digests[path];
  // the leaf rebuilt from the entry as shown; only prev is taken from the served leaf
  const leaf = {
    v: 1,
    kind: kindOf(entry),
    tenant: entry.tenant,
    id: entry.id,
    revision: entry.revision,
    recorded_at: entry.recorded_at,
    recorded_by: entry.recorded_by,
    prev: served.prev ?? null,
    fields,
  };
  if ((leaf.prev === null) !== (entry.revision === 1)) throw new VerifyError("the leaf's link to the revision before is wrong");
  const hash = await leafHash(canonicalBytes(leaf));
  const inclusion = (proof.inclusion ?? []).map((h) => fromBase64(h, "a proof hash"));
  const root = await rootFromInclusion(hash, proof.leaf_index, proof.tree_size, inclusion);
  if (!equal(root, checkpoint.root)) {
    throw new VerifyError("the entry as shown is not the one the signed log holds (leaf or proof mismatch)");
  }
  return { withheld, leafHash: toBase64(hash) };
}
