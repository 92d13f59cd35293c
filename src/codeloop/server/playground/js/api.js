// The server's API as the page uses it: every call carries the tab's API key; errors keep Google's shape.

export class ApiError extends Error {
  // body is what the server sent, {"error": {"code", "message", "status"}}, or one made up for a
  // failure that never reached it (the network), in the same shape.
  constructor(body) {
    const error = (body && body.error) || {};
    super(error.message || "The request failed.");
    this.body = body;
    this.code = error.code;
    this.status = error.status;
  }
}

async function errorOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "object") return new ApiError(body);
  } catch (_) {
    // not JSON: reported below as Google would
  }
  return new ApiError({ error: { code: response.status, message: text || response.statusText, status: "UNKNOWN" } });
}

async function send(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError({ error: { code: 0, message: `The server could not be reached: ${err.message}`, status: "UNAVAILABLE" } });
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export class Api {
  constructor(keyOf) {
    this.keyOf = keyOf; // () => the API key, or "" when none is set
  }

  headers(extra = {}) {
    const headers = { ...extra };
    const key = this.keyOf();
    if (key) headers["x-goog-api-key"] = key;
    return headers;
  }

  async config() {
    const response = await send("config.json", {});
    return response.json();
  }

  async models() {
    const response = await send("/v1beta/models", { headers: this.headers() });
    const body = await response.json();
    return (body.models || []).map((model) => ({
      id: model.name.replace(/^models\//, ""),
      displayName: model.displayName || model.name,
    }));
  }

  // The Files API's multipart upload: the File's metadata, then its bytes. Returns the File resource.
  async upload(file) {
    const form = new FormData();
    const metadata = { file: { displayName: file.name } };
    form.append("metadata", new Blob([JSON.stringify(metadata)], { type: "application/json" }));
    form.append("file", file, file.name);
    const response = await send("/upload/v1beta/files?uploadType=multipart", {
      method: "POST",
      headers: this.headers(),
      body: form,
    });
    return (await response.json()).file;
  }

  // streamGenerateContent as Server-Sent Events; returns the Response for stream.js to read.
  async stream(model, body, { liveOutput = false, session = null, signal = undefined } = {}) {
    const extra = { "content-type": "application/json" };
    if (liveOutput) extra["x-codeloop-live-output"] = "true";
    if (session) extra["x-codeloop-session"] = session;
    const url = `/v1beta/models/${encodeURIComponent(model)}:streamGenerateContent?alt=sse`;
    return send(url, { method: "POST", headers: this.headers(extra), body: JSON.stringify(body), signal });
  }

  // A generated file the response linked to (fileData), fetched with the key, as a Blob.
  async download(fileUri) {
    const path = new URL(fileUri, location.href).pathname;
    const response = await send(`${path}:download?alt=media`, { headers: this.headers() });
    return response.blob();
  }
}
