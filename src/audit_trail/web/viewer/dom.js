// A small DOM builder: text is always set as text, never parsed as HTML.

export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function show(value) {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function badge(state, reason) {
  const labels = { ok: ["\u2713", "verified"], bad: ["\u2717", "not verified"], wait: ["\u2026", "checking"] };
  const [icon, text] = labels[state];
  return h(
    "span",
    { class: "badge", "data-state": state, title: reason ?? null },
    h("span", { "aria-hidden": "true" }, icon),
    " ",
    h("span", { class: "badge-text" }, text),
  );
}
