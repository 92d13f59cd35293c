// "Get code": the current request as curl, Python (google-genai) and Node (@google/genai), runnable
// as written against this server. The key is read from GEMINI_API_KEY, never written into the code.

const KEY_VARIABLE = "GEMINI_API_KEY";
const RENAMED = "Attached files are named input_file_0, input_file_1, … here: the SDK sends no inline file names.";

const shellQuote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

export function curlCode({ baseUrl, model, body, keysRequired }) {
  const url = `${baseUrl}/v1beta/models/${encodeURIComponent(model)}:generateContent`;
  const lines = [`curl -sS ${shellQuote(url)}`, `  -H 'Content-Type: application/json'`];
  if (keysRequired) lines.push(`  -H "x-goog-api-key: $${KEY_VARIABLE}"`);
  lines.push(`  -d ${shellQuote(JSON.stringify(body, null, 2))}`);
  return lines.join(" \\\n") + "\n";
}

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

// A JSON value as a Python literal with the SDK's snake_case names; inline bytes decoded from base64.
function pythonLiteral(value, indent = "", key = "") {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === "string") {
    const quoted = JSON.stringify(value);
    return key === "data" ? `base64.b64decode(${quoted})` : quoted;
  }
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return `[\n${value.map((item) => `${inner}${pythonLiteral(item, inner)},\n`).join("")}${indent}]`;
  }
  const entries = Object.entries(value);
  if (!entries.length) return "{}";
  const items = entries.map(([name, item]) => `${inner}${JSON.stringify(snake(name))}: ${pythonLiteral(item, inner, name)},\n`);
  return `{\n${items.join("")}${indent}}`;
}

// The SDKs refuse inlineData.displayName on the Gemini Developer API (a Vertex AI field), so their code
// leaves it out: the server then names such a file input_file_0.csv, input_file_1.png, … as Gemini does.
function withoutInlineNames(contents) {
  return contents.map((content) => ({
    ...content,
    parts: content.parts.map((part) => {
      if (!part.inlineData || part.inlineData.displayName === undefined) return part;
      const { displayName: _, ...inlineData } = part.inlineData;
      return { ...part, inlineData };
    }),
  }));
}

function hasInlineNames(contents) {
  return contents.some((content) => content.parts.some((part) => part.inlineData && part.inlineData.displayName));
}

// generate_content's config: the body's tools, systemInstruction and generationConfig fields together.
function sdkConfig(body) {
  const config = { ...(body.generationConfig || {}) };
  if (body.tools) config.tools = body.tools;
  if (body.systemInstruction) config.systemInstruction = body.systemInstruction;
  return config;
}

export function pythonCode({ baseUrl, model, body, keysRequired }) {
  const usesBytes = JSON.stringify(body.contents).includes('"inlineData"');
  const key = keysRequired ? `os.environ["${KEY_VARIABLE}"]` : `os.environ.get("${KEY_VARIABLE}", "unused")`;
  return [
    ...(hasInlineNames(body.contents) ? [`# ${RENAMED}`] : []),
    ...(usesBytes ? ["import base64"] : []),
    "import os",
    "",
    "from google import genai",
    "from google.genai import types",
    "",
    "client = genai.Client(",
    `    api_key=${key},`,
    `    http_options=types.HttpOptions(base_url=${JSON.stringify(baseUrl)}),`,
    ")",
    "response = client.models.generate_content(",
    `    model=${JSON.stringify(model)},`,
    `    contents=${pythonLiteral(withoutInlineNames(body.contents), "    ")},`,
    `    config=${pythonLiteral(sdkConfig(body), "    ")},`,
    ")",
    "print(response.text)",
    "",
  ].join("\n");
}

export function nodeCode({ baseUrl, model, body, keysRequired }) {
  const key = keysRequired ? `process.env.${KEY_VARIABLE}` : `process.env.${KEY_VARIABLE} ?? "unused"`;
  const request = { model, contents: withoutInlineNames(body.contents), config: sdkConfig(body) };
  return [
    ...(hasInlineNames(body.contents) ? [`// ${RENAMED}`] : []),
    'import { GoogleGenAI } from "@google/genai";',
    "",
    "const ai = new GoogleGenAI({",
    `  apiKey: ${key},`,
    `  httpOptions: { baseUrl: ${JSON.stringify(baseUrl)} },`,
    "});",
    `const response = await ai.models.generateContent(${JSON.stringify(request, null, 2)});`,
    "console.log(response.text);",
    "",
  ].join("\n");
}

export const GENERATORS = { curl: curlCode, python: pythonCode, node: nodeCode };
