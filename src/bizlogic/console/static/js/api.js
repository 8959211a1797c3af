// Every action of the console is one of the API's own routes, with the user's token.

const base = document.querySelector('meta[name="bl-api"]').content;
const KEY = "bl-token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

function url(path, query) {
  const target = new URL(base + path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(key, item);
  }
  return target.toString();
}

function headers(extra) {
  const value = token.get();
  return { ...(value ? { Authorization: `Bearer ${value}` } : {}), ...(extra || {}) };
}

async function failure(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  const error = body.error || {};
  return new ApiError(response.status, error.code || String(response.status), error.message || response.statusText, error.details);
}

// JSON in, JSON out; { raw: true } returns the Response (downloads).
export async function api(method, path, { query, body, raw } = {}) {
  const init = { method, headers: headers(body !== undefined ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(url(path, query), init);
  if (!response.ok) throw await failure(response);
  return raw ? response : response.status === 204 ? null : response.json();
}

// A file upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
export function upload(path, file, { query, contentType, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url(path, query));
    for (const [name, value] of Object.entries(headers({ "Content-Type": contentType || file.type || "application/octet-stream" }))) {
      request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = {};
      }
      if (request.status >= 200 && request.status < 300) resolve(body);
      else {
        const error = body.error || {};
        reject(new ApiError(request.status, error.code || String(request.status), error.message || request.statusText, error.details));
      }
    });
    request.addEventListener("error", () => reject(new ApiError(0, "NETWORK", "the request did not reach the server")));
    request.send(file);
  });
}

// A download of what a POST returns (exports), under the server's file name.
export async function download(path, body) {
  const response = await api("POST", path, { body, raw: true });
  const disposition = response.headers.get("content-disposition") || "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || "bizlogic-export";
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  return { name, size: blob.size };
}
