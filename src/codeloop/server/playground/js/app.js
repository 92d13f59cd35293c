// The playground's wiring: settings, model picker, the conversation and its streamed turns, get code.

import { Api, ApiError } from "./api.js";
import { Attachments, partsFor } from "./attachments.js";
import { GENERATORS } from "./getcode.js";
import { highlightInto } from "./highlight.js";
import { ModelTurn, errorBox, userTurn } from "./render.js";
import { requestBody, storeKey, storedKey, toggles } from "./settings.js";
import { sseEvents } from "./stream.js";

const $ = (id) => document.getElementById(id);

const state = {
  keysRequired: false,
  contents: [], // the conversation so far, as the API takes it
  session: null, // the kept session's id, once the server named one
  lastBody: null, // the last request sent, for "get code"
  busy: false,
  stopping: null, // the AbortController of the request in flight
};

const api = new Api(() => $("api-key").value.trim());
const attachments = new Attachments($("attachments"));

function notice(err) {
  const box = $("notice");
  if (!err) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.replaceChildren(errorBox(err));
  box.hidden = false;
}

async function loadModels() {
  try {
    const models = await api.models();
    const select = $("model");
    const chosen = select.value;
    select.replaceChildren(
      ...models.map((model) => {
        const option = document.createElement("option");
        option.value = model.id;
        option.textContent = model.displayName === model.id ? model.id : `${model.displayName} (${model.id})`;
        return option;
      }),
    );
    if (models.some((model) => model.id === chosen)) select.value = chosen;
    notice(null);
  } catch (err) {
    notice(err);
  }
}

function showSession() {
  $("session-status").textContent = state.session ? `Kept session: ${state.session}` : "";
}

function newChat() {
  state.contents = [];
  state.session = null;
  state.lastBody = null;
  $("conversation").replaceChildren();
  attachments.clear();
  showSession();
  notice(null);
}

// The model's turn as history for the next request: its text, code and final results (files are
// left out: the next request need not carry their bytes back).
function historyPart(part) {
  if (part.text !== undefined) return part.thought ? null : { text: part.text };
  if (part.executableCode) return { executableCode: part.executableCode };
  if (part.codeExecutionResult && part.codeExecutionResult.outcome) {
    return { codeExecutionResult: part.codeExecutionResult };
  }
  return null;
}

function mergeText(parts) {
  const merged = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (part.text !== undefined && last && last.text !== undefined) last.text += part.text;
    else merged.push({ ...part });
  }
  return merged.filter((part) => part.text === undefined || part.text !== "");
}

async function send(event) {
  event.preventDefault();
  if (state.busy) return;
  const text = $("prompt").value;
  const files = [...attachments.files];
  if (!text.trim() && !files.length) return;
  const model = $("model").value;
  if (!model) {
    notice(new ApiError({ error: { code: 400, message: "Choose a model first.", status: "INVALID_ARGUMENT" } }));
    return;
  }
  state.busy = true;
  state.stopping = new AbortController();
  $("send").hidden = true;
  $("stop").hidden = false;
  notice(null);
  userTurn($("conversation"), text, files);
  const turn = new ModelTurn($("conversation"), api);
  const modelParts = [];
  try {
    const parts = await partsFor(files, api);
    if (text.trim()) parts.push({ text });
    const userContent = { role: "user", parts };
    const body = requestBody([...state.contents, userContent]);
    state.lastBody = body;
    $("prompt").value = "";
    attachments.clear();
    const { keepSession, liveOutput } = toggles();
    const session = keepSession ? state.session || "new" : null;
    const response = await api.stream(model, body, { liveOutput, session, signal: state.stopping.signal });
    if (keepSession) {
      state.session = response.headers.get("x-codeloop-session") || state.session;
      showSession();
    }
    let candidate = null;
    let usage = null;
    for await (const chunk of sseEvents(response)) {
      if (chunk.error) throw new ApiError(chunk); // the stream's status line was spent: an error chunk
      candidate = (chunk.candidates || [])[0] || candidate;
      usage = chunk.usageMetadata || usage;
      for (const part of (candidate && candidate.content && candidate.content.parts) || []) {
        show(turn, part);
        const kept = historyPart(part);
        if (kept) modelParts.push(kept);
      }
    }
    turn.finish(candidate, usage);
    state.contents.push(userContent, { role: "model", parts: mergeText(modelParts) });
  } catch (err) {
    if (err.name === "AbortError" || (state.stopping && state.stopping.signal.aborted)) {
      turn.stopped(); // the turn is left out of the history: the model did not finish it
      return;
    }
    turn.addError(err instanceof ApiError ? err : new ApiError({ error: { code: 0, message: String(err), status: "UNKNOWN" } }));
    if (err instanceof ApiError && (err.code === 401 || err.code === 403)) showKeyField();
  } finally {
    state.busy = false;
    state.stopping = null;
    $("send").hidden = false;
    $("stop").hidden = true;
    turn.node.dataset.done = "true";
  }
}

function show(turn, part) {
  if (part.text !== undefined) {
    if (part.text) turn.addText(part.text, Boolean(part.thought));
  } else if (part.executableCode) {
    turn.addCode(part.executableCode);
  } else if (part.codeExecutionResult) {
    turn.addResult(part.codeExecutionResult, part.partMetadata);
  } else if (part.inlineData) {
    turn.addInlineFile(part.inlineData);
  } else if (part.fileData) {
    turn.addLinkedFile(part.fileData);
  }
}

// "Get code" shows what Send would send now: the history, plus the message being written, if any.
function currentBody() {
  const text = $("prompt").value;
  if (text.trim()) return requestBody([...state.contents, { role: "user", parts: [{ text }] }]);
  return state.lastBody;
}

function showCode(language) {
  const body = currentBody();
  const listing = $("code-listing");
  if (!body) {
    listing.textContent = "Write a message (or send one) first: this shows the request it makes.";
  } else {
    const code = GENERATORS[language]({ baseUrl: location.origin, model: $("model").value, body, keysRequired: state.keysRequired });
    highlightInto(listing, code, language === "curl" ? "bash" : language === "node" ? "javascript" : "python");
    listing.dataset.code = code;
  }
  listing.dataset.language = language;
  for (const tab of document.querySelectorAll("#code-dialog .tabs button")) {
    tab.classList.toggle("active", tab.dataset.language === language);
  }
}

function showKeyField() {
  $("api-key-field").hidden = false;
}

async function start() {
  $("api-key").value = storedKey();
  try {
    state.keysRequired = Boolean((await api.config()).keysRequired);
  } catch (err) {
    notice(err);
  }
  if (state.keysRequired) showKeyField();
  $("api-key").addEventListener("change", () => {
    storeKey($("api-key").value.trim());
    loadModels();
  });
  $("composer").addEventListener("submit", send);
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("composer").requestSubmit();
  });
  $("attach").addEventListener("change", () => {
    attachments.add($("attach").files);
    $("attach").value = "";
  });
  attachments.acceptDrops($("chat"));
  $("new-chat").addEventListener("click", newChat);
  $("stop").addEventListener("click", () => state.stopping && state.stopping.abort());
  $("get-code").addEventListener("click", () => {
    showCode("curl");
    $("code-dialog").showModal();
  });
  for (const tab of document.querySelectorAll("#code-dialog .tabs button")) {
    tab.addEventListener("click", () => showCode(tab.dataset.language));
  }
  $("close-code").addEventListener("click", () => $("code-dialog").close());
  $("copy-code").addEventListener("click", () => navigator.clipboard.writeText($("code-listing").dataset.code || ""));
  $("keep-session").addEventListener("change", () => {
    state.session = null;
    showSession();
  });
  await loadModels();
  document.body.dataset.ready = "true";
}

start();
