// The console's strings: msgids are the English text; the catalogue of the page's
// language comes from the same gettext files the server renders the page with.

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
export const lang = meta("bl-lang") || "en";
let catalogue = {};

export async function loadMessages() {
  const response = await fetch(`/console/messages/${lang}.json`);
  catalogue = response.ok ? await response.json() : {};
}

// t("{n} rules", { n: 3 }) → the translation with {n} filled in.
export function t(msgid, values = {}) {
  const text = catalogue[msgid] || msgid;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

export function switchLanguage(next) {
  localStorage.setItem("bl-lang", next);
  const url = new URL(window.location.href);
  url.searchParams.set("lang", next);
  window.location.replace(url.toString());
}

// The language remembered from an earlier pick wins over the browser's.
export function rememberedLanguage() {
  return localStorage.getItem("bl-lang");
}
