// <audit-trail-viewer base-url="https://audit.example/apiv3/audit_trail" token="…"
//                     log-key="name+1234abcd+AQ…" page-size="50">
// One ES module, no build: a timeline with filters and cursor paging, an entry's
// revisions and field diff, export, and a per-entry "verified" badge computed here,
// with WebCrypto, from the entry's inclusion proof and the signed checkpoint.

import { h, badge } from "./dom.js";
import { renderDetail } from "./detail.js";
import { LogChecker } from "./checker.js";
import { ApiClient, ApiError } from "./client.js";

const HERE = new URL(".", import.meta.url);
const DEFAULT_BASE = new URL("..", HERE).href.replace(/\/$/, "");
const OUTCOMES = ["", "success", "failure", "denied", "error", "unknown"];
const FILTERS = [
  ["actor_id", "Actor"],
  ["target_type", "Target type"],
  ["target_id", "Target"],
  ["action", "Action (prefix*)"],
];

/** "2026-11-28 09:30:00Z" (milliseconds only when there are some). */
function when(iso) {
  return iso.replace("T", " ").replace(".000Z", "Z");
}

export class AuditTrailViewer extends HTMLElement {
  static observedAttributes = ["base-url", "token", "log-key", "page-size"];

  #token = null;
  #cursors = [null]; // the cursor of each page seen; the last one is the current page
  #filters = {};
  #items = [];
  #verdicts = new Map(); // entry id -> {state, reason}
  #started = 0;
  #generation = 0;
  timings = { firstRender: null, verify: null, verified: 0, failed: 0 };

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this.client = new ApiClient(() => this.baseUrl, () => this.token);
    this.checker = new LogChecker(this.client, () => this.getAttribute("log-key"));
  }

  get token() {
    return this.#token ?? this.getAttribute("token");
  }

  set token(value) {
    this.#token = value;
    if (this.timings.firstRender === null) this.#started = performance.now();
    if (this.isConnected && this.shadowRoot.childElementCount) this.reload();
  }

  get baseUrl() {
    return (this.getAttribute("base-url") || DEFAULT_BASE).replace(/\/$/, "");
  }

  get pageSize() {
    const size = Number.parseInt(this.getAttribute("page-size") ?? "50", 10);
    return Number.isInteger(size) && size >= 1 && size <= 1000 ? size : 50;
  }

  connectedCallback() {
    if (this.shadowRoot.childElementCount) return;
    this.#started = performance.now();
    this.#build();
    this.reload();
  }

  attributeChangedCallback(name, before, after) {
    if (before === after || !this.shadowRoot.childElementCount) return;
    if (name === "log-key" || name === "base-url") {
      this.checker.forget();
    }
    this.reload();
  }

  /** The first page again, with the current filters. */
  reload() {
    this.#cursors = [null];
    return this.#load();
  }

  #build() {
    const root = this.shadowRoot;
    root.append(h("link", { rel: "stylesheet", href: new URL("viewer.css", HERE).href }));
    const fields = FILTERS.map(([name, label]) =>
      h("label", {}, h("span", {}, label), h("input", { name, type: "search", autocomplete: "off" })),
    );
    const outcome = h(
      "label",
      {},
      h("span", {}, "Outcome"),
      h("select", { name: "outcome" }, OUTCOMES.map((o) => h("option", { value: o }, o || "any"))),
    );
    const since = h("label", {}, h("span", {}, "From"), h("input", { name: "since", type: "datetime-local", step: "1" }));
    const until = h("label", {}, h("span", {}, "To"), h("input", { name: "until", type: "datetime-local", step: "1" }));
    this.form = h(
      "form",
      { class: "filters", role: "search", "aria-label": "Filter entries", onsubmit: (e) => this.#filter(e) },
      fields,
      outcome,
      since,
      until,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit" }, "Apply filters"),
        h("button", { type: "reset", onclick: () => setTimeout(() => this.#filter()) }, "Clear"),
      ),
    );
    this.status = h("p", { class: "status", role: "status", "aria-live": "polite" });
    this.list = h("ol", { class: "timeline", "aria-label": "Entries, newest first", onkeydown: (e) => this.#key(e) });
    this.previous = h("button", { type: "button", onclick: () => this.#page(-1) }, "Previous page");
    this.next = h("button", { type: "button", onclick: () => this.#page(1) }, "Next page");
    this.pageLabel = h("span", { class: "page" });
    const exports = ["ndjson", "csv"].map((format) =>
      h("button", { type: "button", class: "export", onclick: () => this.#export(format) }, `Export ${format.toUpperCase()}`),
    );
    this.detail = h("div", { class: "detail-slot" });
    root.append(
      h(
        "div",
        { class: "viewer", part: "viewer" },
        this.form,
        h("div", { class: "toolbar" }, this.previous, this.pageLabel, this.next, h("span", { class: "spacer" }), exports),
        this.status,
        h("div", { class: "panes" }, this.list, this.detail),
      ),
    );
  }

  #filter(event) {
    event?.preventDefault();
    const data = new FormData(this.form);
    const filters = {};
    for (const [name, raw] of data) {
      const value = String(raw).trim();
      if (!value) continue;
      filters[name] = name === "since" || name === "until" ? new Date(value).toISOString() : value;
    }
    this.#filters = filters;
    this.reload();
  }

  #page(step) {
    if (step < 0 && this.#cursors.length > 1) this.#cursors.pop();
    else if (step > 0 && this.nextCursor) this.#cursors.push(this.nextCursor);
    else return;
    this.#load();
  }

  async #load() {
    const generation = ++this.#generation;
    if (!this.token) {
      this.#say("A bearer token is needed to show entries.");
      return;
    }
    const started = this.timings.firstRender === null ? this.#started : performance.now();
    this.dataset.state = "loading";
    this.#say("Loading entries\u2026");
    const head = this.checker.head(); // the checkpoint and the key, while the page loads
    let page;
    try {
      const cursor = this.#cursors.at(-1);
      page = await this.client.json("/entries", { ...this.#filters, limit: this.pageSize, cursor });
    } catch (error) {
      if (generation === this.#generation) {
        this.#say(`Could not load entries: ${error.message}`, true);
        this.dataset.state = "failed";
      }
      return;
    }
    if (generation !== this.#generation) return;
    this.#items = page.items;
    this.nextCursor = page.next_cursor;
    this.#renderList();
    const rendered = performance.now() - started;
    if (this.timings.firstRender === null) this.timings.firstRender = rendered;
    this.#event("atv-page", { count: page.items.length, ms: rendered, page: this.#cursors.length });
    await this.#verifyPage(generation, head);
  }

  #renderList() {
    const items = this.#items;
    this.list.replaceChildren(
      ...items.map((entry, index) =>
        h(
          "li",
          { "data-id": entry.id },
          h(
            "button",
            {
              type: "button",
              class: "entry",
              tabindex: index === 0 ? "0" : "-1",
              onclick: () => this.open(entry.id),
            },
            h("time", { datetime: entry.occurred_at, title: entry.occurred_at }, when(entry.occurred_at)),
            h("span", { class: "actor" }, entry.actor?.name ? `${entry.actor.name} (${entry.actor.id})` : entry.actor?.id),
            h("span", { class: "action" }, entry.action),
            h("span", { class: "target" }, entry.target ? `${entry.target.type}:${entry.target.id}` : ""),
            h("span", { class: "outcome", "data-outcome": entry.outcome }, entry.outcome),
            this.#badgeFor(entry),
          ),
        ),
      ),
    );
    this.previous.disabled = this.#cursors.length <= 1;
    this.next.disabled = !this.nextCursor;
    this.pageLabel.textContent = `Page ${this.#cursors.length}`;
    this.#say(items.length ? `${items.length} entries, page ${this.#cursors.length}` : "No entries match.");
  }

  #badgeFor(entry) {
    const verdict = this.#verdicts.get(`${entry.id}/${entry.revision}`);
    return badge(verdict?.state ?? "wait", verdict?.reason);
  }

  #key(event) {
    const buttons = [...this.list.querySelectorAll("button.entry")];
    const at = buttons.indexOf(this.shadowRoot.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 };
    if (!(event.key in moves) || !buttons.length) return;
    event.preventDefault();
    const target = buttons[Math.max(0, Math.min(buttons.length - 1, moves[event.key]))];
    for (const button of buttons) button.tabIndex = button === target ? 0 : -1;
    target.focus();
  }

  async #verifyPage(generation, head) {
    const started = performance.now();
    const items = this.#items;
    this.dataset.state = "verifying";
    this.#say(`Verifying ${items.length} entries\u2026`);
    const verdicts = await this.checker.page(items, head);
    if (generation !== this.#generation) return;
    let failed = 0;
    items.forEach((entry, index) => {
      this.#verdicts.set(`${entry.id}/${entry.revision}`, verdicts[index]);
      if (verdicts[index].state !== "ok") failed += 1;
      const old = this.list.querySelector(`li[data-id="${CSS.escape(entry.id)}"] .badge`);
      old?.replaceWith(this.#badgeFor(entry));
    });
    const ms = performance.now() - started;
    Object.assign(this.timings, { verify: ms, verified: items.length - failed, failed });
    this.#say(
      failed
        ? `${failed} of ${items.length} entries do NOT verify against the signed log.`
        : `All ${items.length} entries verified against the signed log.`,
      failed > 0,
    );
    this.dataset.state = "ready";
    this.#event("atv-verified", { verified: items.length - failed, failed, ms });
  }

  /** Open the detail of entry ``id``: its revisions and the diff of the latest one. */
  async open(id) {
    this.#say("Loading the entry\u2026");
    let history;
    try {
      history = (await this.client.json(`/entries/${encodeURIComponent(id)}/history`, { limit: 1000 })).items;
    } catch (error) {
      this.#say(`Could not load the entry: ${error.message}`, true);
      return;
    }
    const shown = this.#items.find((entry) => entry.id === id);
    const verdict = shown ? this.#verdicts.get(`${shown.id}/${shown.revision}`) : null;
    const render = (index) => {
      const close = () => {
        this.detail.replaceChildren();
        this.list.querySelector(`li[data-id="${CSS.escape(id)}"] button`)?.focus();
      };
      const panel = renderDetail(history, index, verdict, render, close);
      panel.addEventListener("keydown", (event) => event.key === "Escape" && close());
      this.detail.replaceChildren(panel);
      panel.querySelector("h2").focus();
    };
    render(history.length - 1);
    this.#say(`Entry ${id}: ${history.length} revision(s).`);
    this.#event("atv-open", { id, revisions: history.length });
  }

  async #export(format) {
    this.#say(`Exporting ${format.toUpperCase()}\u2026`);
    try {
      const response = await this.client.fetch("/entries/export", { ...this.#filters, format });
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `audit-trail.${format}` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      this.#say(`Exported ${format.toUpperCase()}.`);
    } catch (error) {
      const missing = error instanceof ApiError && error.status === 404;
      this.#say(`Export failed: ${missing ? "the service has no export" : error.message}`, true);
    }
  }

  #say(text, alert = false) {
    this.status.textContent = text;
    this.status.dataset.alert = alert ? "true" : "false";
  }

  #event(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get("audit-trail-viewer")) customElements.define("audit-trail-viewer", AuditTrailViewer);
