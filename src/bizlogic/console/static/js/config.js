// What the server offers (import formats, algorithms), read once from the server.

let cached = null;

export async function config() {
  if (!cached) cached = fetch("/console/config.json").then((response) => response.json());
  return cached;
}
