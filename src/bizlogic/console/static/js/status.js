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

export function quiet() {
  replace(region());
}
