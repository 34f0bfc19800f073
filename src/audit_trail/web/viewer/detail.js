// An entry's detail: its revisions, the fields of one of them (erased ones marked) and
// the field-by-field difference from the revision before it.

import { h, show, badge } from "./dom.js";
import { renderedFields } from "./verify.js";

function fieldsOf(entry) {
  const fields = renderedFields(entry);
  for (const path of entry.erased ?? []) fields[path] = ERASED;
  return fields;
}

const ERASED = Symbol("erased");

function value(v) {
  if (v === ERASED) return h("span", { class: "erased" }, "erased");
  if (v === undefined) return h("span", { class: "absent" }, "\u2014");
  return h("code", {}, show(v));
}

/** Rows of what changed from before (null for a first revision) to after. */
export function diff(before, after) {
  const old = before ? fieldsOf(before) : {};
  const now = fieldsOf(after);
  const paths = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  const rows = [];
  for (const path of paths) {
    const a = old[path];
    const b = now[path];
    if (a !== ERASED && b !== ERASED && JSON.stringify(a) === JSON.stringify(b)) continue;
    if (a === ERASED && b === ERASED) continue;
    const change = a === undefined ? "added" : b === undefined ? "removed" : "changed";
    rows.push({ path, before: a, after: b, change });
  }
  return rows;
}

export function renderDetail(history, selected, verdict, onSelect, onClose) {
  const current = history[selected];
  const previous = selected > 0 ? history[selected - 1] : null;
  const heading = h("h2", { id: "atv-detail-title", tabindex: "-1" }, `Entry ${current.id}`);
  const revisions = h(
    "ol",
    { class: "revisions", "aria-label": "Revision history" },
    history.map((rev, index) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "revision",
            "aria-current": index === selected ? "true" : null,
            onclick: () => onSelect(index),
          },
          `Revision ${rev.revision}`,
          rev.deleted ? " (deleted)" : "",
          ` \u00b7 ${rev.recorded_at} \u00b7 by ${rev.recorded_by}`,
        ),
      ),
    ),
  );
  const fields = fieldsOf(current);
  const fieldRows = Object.keys(fields)
    .sort()
    .map((path) => h("tr", { "data-path": path }, h("th", { scope: "row" }, path), h("td", {}, value(fields[path]))));
  const changes = diff(previous, current);
  const diffTable = !previous
    ? h("p", { class: "diff-empty" }, "The first revision: every field above was recorded as shown.")
    : changes.length
    ? h(
        "table",
        { class: "diff" },
        h("caption", {}, `Changes from revision ${previous.revision}`),
        h("thead", {}, h("tr", {}, ["Field", "Change", "Before", "After"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          changes.map((row) =>
            h(
              "tr",
              { "data-path": row.path, "data-change": row.change },
              h("th", { scope: "row" }, row.path),
              h("td", {}, row.change),
              h("td", { class: "before" }, value(row.before)),
              h("td", { class: "after" }, value(row.after)),
            ),
          ),
        ),
      )
    : h("p", { class: "diff-empty" }, "No field changed in this revision.");
  const proof = verdict
    ? h("p", { class: "verdict" }, badge(verdict.state, verdict.reason), " ", verdict.reason ?? "")
    : null;
  return h(
    "section",
    { class: "detail", "aria-labelledby": "atv-detail-title" },
    h("div", { class: "detail-head" }, heading, h("button", { type: "button", class: "close", onclick: onClose }, "Close")),
    proof,
    h("h3", {}, "Revisions"),
    revisions,
    h("h3", {}, `Revision ${current.revision}`),
    h("table", { class: "fields" }, h("caption", {}, "Fields"), h("tbody", {}, fieldRows)),
    h("h3", {}, "Difference"),
    diffTable,
  );
}
