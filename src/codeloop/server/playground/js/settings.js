// The settings panel read into a request: tools, generationConfig, systemInstruction; the key, tab-only.

const KEY_STORAGE = "codeloop.apiKey"; // sessionStorage: this tab only, gone when it closes

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

const $ = (id) => document.getElementById(id);

function numberOf(id, parse) {
  const raw = $(id).value.trim();
  if (raw === "") return undefined;
  const value = parse(raw);
  return Number.isFinite(value) ? value : undefined;
}

export function toggles() {
  return {
    codeExecution: $("code-execution").checked,
    keepSession: $("keep-session").checked,
    liveOutput: $("live-output").checked,
  };
}

// The request body for `contents`, as the settings stand: fields left empty are left out, so the
// server's defaults apply.
export function requestBody(contents) {
  const body = { contents };
  if (toggles().codeExecution) body.tools = [{ codeExecution: {} }];
  const generationConfig = {};
  const fields = [
    ["temperature", "temperature", Number.parseFloat],
    ["topP", "top-p", Number.parseFloat],
    ["topK", "top-k", Number.parseInt],
    ["maxOutputTokens", "max-output-tokens", Number.parseInt],
    ["seed", "seed", Number.parseInt],
  ];
  for (const [name, id, parse] of fields) {
    const value = numberOf(id, parse);
    if (value !== undefined) generationConfig[name] = value;
  }
  if (Object.keys(generationConfig).length) body.generationConfig = generationConfig;
  const instruction = $("system-instruction").value.trim();
  if (instruction) body.systemInstruction = { parts: [{ text: instruction }] };
  return body;
}
