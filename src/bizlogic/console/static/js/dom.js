// Building the page from data without HTML strings: text is always text (no injection).

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function number(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function percent(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return `${(100 * value).toFixed(digits)}%`;
}

export function scientific(value) {
  if (value === null || value === undefined) return "—";
  return value === 0 ? "0" : value < 0.001 ? Number(value).toExponential(1) : number(value, 3);
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// The text with each occurrence of the keywords wrapped in <mark> (case-insensitive).
export function highlighted(text, keywords) {
  const words = keywords.filter((k) => k && k.length).sort((a, b) => b.length - a.length);
  if (!words.length) return [text];
  const lower = text.toLowerCase();
  const parts = [];
  let at = 0;
  while (at < text.length) {
    let best = -1;
    let bestWord = "";
    for (const word of words) {
      const found = lower.indexOf(word.toLowerCase(), at);
      if (found !== -1 && (best === -1 || found < best)) {
        best = found;
        bestWord = word;
      }
    }
    if (best === -1) break;
    if (best > at) parts.push(text.slice(at, best));
    parts.push(h("mark", {}, text.slice(best, best + bestWord.length)));
    at = best + bestWord.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", {}, hint) : null);
}
