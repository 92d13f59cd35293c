// Streams a block's output live through @google/genai for Node and prints what it saw as JSON.
// Usage: node live_output.mjs BASE_URL (developer|vertex-express)
import { GoogleGenAI } from "@google/genai";

const [baseUrl, mode] = process.argv.slice(2);
const ai = new GoogleGenAI({
  apiKey: "test-key",
  vertexai: mode === "vertex-express",
  httpOptions: { baseUrl, headers: { "X-Codeloop-Live-Output": "true" } },
});
const started = Date.now();
const chunks = [];
const stream = await ai.models.generateContentStream({
  model: "scripted",
  contents: "```python\nimport time\nprint('a', flush=True)\ntime.sleep(1)\nprint('b')\n```\n",
  config: { tools: [{ codeExecution: {} }] },
});
for await (const chunk of stream) {
  chunks.push({
    at: Date.now() - started,
    parts: chunk.candidates[0].content.parts,
    finishReason: chunk.candidates[0].finishReason ?? null,
  });
}
console.log(JSON.stringify(chunks));
