// One polite live region for what happened (screen readers hear it too).

import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

const region = () => document.getElementById("status");

export function say(message, kind = "info") {
  replace(region(), h("p", { class: `note ${kind}` }, message));
}

export function sayError(error) {
  const code = error && error.code ? ` (${error.code})` : "";
  say(`${t("Error")}${code}: ${error && error.message ? error.message : String(error)}`, "error");
}

let pending = null;

// A message for after the page is drawn again (a change that redraws the page).
export function sayNext(message, kind = "info") {
  pending = [message, kind];
}

// Each page starts with an empty region, or with the message left for it.
export function quiet() {
  replace(region());
  if (pending) say(...pending);
  pending = null;
}
