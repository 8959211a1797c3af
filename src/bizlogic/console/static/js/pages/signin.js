// Sign-in: paste a token (`bizlogic token create …`), or open a sign-in link.

import { token } from "../api.js";
import { field, h, replace } from "../dom.js";
import { t } from "../i18n.js";
import { loadMe, signOut } from "../session.js";
import { sayError } from "../status.js";

export async function show(main) {
  const input = h("textarea", { name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false" });
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signin-title" },
    field(t("Access token"), input, t("Made with: bizlogic token create --user NAME --role ROLE")),
    h("button", { type: "submit" }, t("Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    try {
      await loadMe();
      window.location.hash = "#/projects";
    } catch (error) {
      signOut();
      sayError(error);
      input.focus();
    }
  });
  replace(main, h("h1", { id: "signin-title" }, t("Sign in")), form);
  input.focus();
}
