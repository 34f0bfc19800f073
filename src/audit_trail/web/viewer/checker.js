// Verifies a page of entries against the tenant's signed log: the trusted key once,
// one checkpoint per page (its signature checked once), then every entry's proof.

import { ApiError } from "./client.js";
import { parseVkey, servedVkey, verifyCheckpoint, verifyEntry } from "./verify.js";

export class LogChecker {
  #verifier = null; // Promise of the parsed trusted key
  #checkpoints = new Map(); // note text -> Promise of its verified checkpoint

  /** pinned(): the log-key attribute, or null to trust the key /log/key serves. */
  constructor(client, pinned) {
    this.client = client;
    this.pinned = pinned;
  }

  forget() {
    this.#verifier = null;
    this.#checkpoints.clear();
  }

  #trust() {
    if (!this.#verifier) {
      const pinned = this.pinned();
      this.#verifier = (async () => parseVkey(pinned || (await servedVkey(await this.client.json("/log/key")))))();
      this.#verifier.catch(() => (this.#verifier = null));
    }
    return this.#verifier;
  }

  #checkpoint(note) {
    if (!this.#checkpoints.has(note)) {
      this.#checkpoints.set(note, this.#trust().then((verifier) => verifyCheckpoint(note, verifier)));
    }
    return this.#checkpoints.get(note);
  }

  async #proof(entry, size) {
    const path = `/entries/${encodeURIComponent(entry.id)}/proof`;
    try {
      return await this.client.json(path, { revision: entry.revision, tree_size: size });
    } catch (error) {
      // newer than the page's checkpoint: the latest one covers it
      if (!(error instanceof ApiError) || error.status >= 500 || error.status === 404) throw error;
      return this.client.json(path, { revision: entry.revision });
    }
  }

  async #one(entry, head) {
    try {
      const proof = await this.#proof(entry, head?.size);
      const checkpoint = await this.#checkpoint(proof.checkpoint);
      const { withheld } = await verifyEntry(entry, proof, checkpoint);
      const note = withheld.length ? `; withheld: ${withheld.join(", ")}` : "";
      return { state: "ok", reason: `in the signed log of ${checkpoint.size} leaves${note}` };
    } catch (error) {
      return { state: "bad", reason: error.message };
    }
  }

  /** The latest checkpoint, verified, or null when it cannot be had (each proof then
   * brings its own checkpoint, whose signature is checked). Ask for it alongside the
   * page of entries: it does not depend on them. */
  async head() {
    this.#trust().catch(() => {}); // the key, at the same time (its failure shows per entry)
    try {
      return await this.#checkpoint(await this.client.text("/log/checkpoint"));
    } catch {
      return null;
    }
  }

  /** A verdict {state: "ok" | "bad", reason} for each entry, in order, with every proof
   * asked for the tree size of ``head`` (a promise of head()). */
  async page(entries, head = this.head()) {
    const checkpoint = await head;
    return Promise.all(entries.map((entry) => this.#one(entry, checkpoint)));
  }
}
