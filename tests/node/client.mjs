// Drives @google/genai for Node against a codeloop server and prints what it saw as JSON.
// Usage: node client.mjs BASE_URL (developer|vertex-express)
import { GoogleGenAI } from "@google/genai";

const [baseUrl, mode] = process.argv.slice(2);
const ai = new GoogleGenAI({
  apiKey: "test-key",
  vertexai: mode === "vertex-express",
  httpOptions: { baseUrl },
});
const request = {
  model: "scripted",
  contents: "Add the first ten integers.\n```python\nprint(sum(range(1, 11)))\n```\n",
  config: { tools: [{ codeExecution: {} }] },
};

const response = await ai.models.generateContent(request);
const streamed = [];
for await (const chunk of await ai.models.generateContentStream(request)) {
  streamed.push(chunk.candidates[0].content.parts.map((part) => Object.keys(part)[0]));
}
console.log(
  JSON.stringify({
    parts: response.candidates[0].content.parts.map((part) => Object.keys(part)[0]),
    executableCode: response.executableCode,
    codeExecutionResult: response.codeExecutionResult,
    finishReason: response.candidates[0].finishReason,
    totalTokenCount: response.usageMetadata.totalTokenCount,
    streamed,
  }),
);
