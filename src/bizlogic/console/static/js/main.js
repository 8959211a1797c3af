// The console's entry: sign-in state, navigation, language, and the page router.

import { h, replace } from "./dom.js";
import { lang, loadMessages, rememberedLanguage, switchLanguage, t } from "./i18n.js";
import { can, loadMe, session, signOut, takeTokenFromLink } from "./session.js";
import { quiet, sayError } from "./status.js";
import * as signin from "./pages/signin.js";
import * as projects from "./pages/projects.js";
import * as rules from "./pages/rules.js";
import * as insights from "./pages/insights.js";
import * as charts from "./pages/charts.js";
import * as ops from "./pages/ops.js";

const routes = [
  [/^#\/signin$/, signin, false],
  [/^#\/projects$/, projects, true],
  [/^#\/projects\/([^/?]+)\/rules$/, rules, true],
  [/^#\/projects\/([^/?]+)\/insights$/, insights, true],
  [/^#\/projects\/([^/?]+)\/charts$/, charts, true],
  [/^#\/ops$/, ops, true],
];

let keepStatus = false; // the next page keeps the message shown before it

function parse(hash) {
  const [path, search] = hash.split("?");
  return { path: path || "#/projects", params: new URLSearchParams(search || "") };
}

async function render() {
  const main = document.getElementById("main");
  const { path, params } = parse(window.location.hash);
  const found = routes.find(([pattern]) => pattern.test(path));
  if (!found) {
    window.location.hash = session.me ? "#/projects" : "#/signin";
    return;
  }
  const [pattern, page, needsSignIn] = found;
  if (needsSignIn && !session.me) {
    window.location.hash = "#/signin";
    return;
  }
  const args = pattern.exec(path).slice(1).map(decodeURIComponent);
  if (!keepStatus) quiet();
  keepStatus = false;
  showNavigation(path);
  main.setAttribute("aria-busy", "true");
  try {
    await page.show(main, { args, params });
  } catch (error) {
    replace(main, h("h1", {}, t("Something went wrong")));
    sayError(error);
  } finally {
    main.removeAttribute("aria-busy");
  }
  document.title = `${main.querySelector("h1")?.textContent || ""} · ${t("bizlogic console")}`;
}

function showNavigation(path) {
  const nav = document.getElementById("nav");
  nav.hidden = !session.me;
  for (const link of nav.querySelectorAll("a")) {
    const needs = link.dataset.needs;
    link.hidden = Boolean(needs) && !can(needs);
    const current = path.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const who = document.getElementById("who");
  replace(who, session.me ? `${session.me.user} · ${roleName(session.me.role)}` : "");
  document.getElementById("signout").hidden = !session.me;
}

export function roleName(role) {
  const names = {
    viewer: t("Viewer"),
    data_analyst: t("Data analyst"),
    business_expert: t("Business expert"),
    system_admin: t("System administrator"),
  };
  return names[role] || role;
}

async function start() {
  const remembered = rememberedLanguage();
  const asked = new URL(window.location.href).searchParams.get("lang");
  if (remembered && remembered !== lang && !asked) {
    switchLanguage(remembered);
    return;
  }
  await loadMessages();
  const chooser = document.getElementById("lang");
  chooser.value = lang;
  chooser.addEventListener("change", () => switchLanguage(chooser.value));
  document.getElementById("signout").addEventListener("click", () => {
    signOut();
    window.location.hash = "#/signin";
  });
  try {
    await takeTokenFromLink();
  } catch (error) {
    sayError(error); // a used or expired link: say so on the sign-in page
    keepStatus = true;
  }
  try {
    await loadMe();
  } catch (error) {
    signOut(); // an expired or revoked token: sign in again
    if (error.status !== 401) sayError(error);
  }
  window.addEventListener("hashchange", render);
  await render();
}

start();
