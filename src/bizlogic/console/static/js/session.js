// Who is signed in and what their role lets them do — the API decides; this only
// hides what would be refused.

import { api, token } from "./api.js";

export const session = { me: null };

export async function loadMe() {
  session.me = token.get() ? await api("GET", "/me") : null;
  return session.me;
}

export function can(permission) {
  return Boolean(session.me && session.me.permissions.includes(permission));
}

export function signOut() {
  token.clear();
  session.me = null;
}

// A sign-in link (`bizlogic token create --open`) carries a one-time code in the
// fragment (#signin=…), which never reaches a server log: it is traded once for a
// token, kept in this tab's storage, and wiped from the address bar.
export async function takeTokenFromLink() {
  const match = /^#signin=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (!match) return false;
  history.replaceState(null, "", `${window.location.pathname}${window.location.search}#/projects`);
  const answer = await api("POST", "/signin", { body: { code: match[1] } });
  token.set(answer.token);
  return true;
}
