// Drives @google/genai's interactions for Node against a codeloop server and prints what it saw as JSON.
// Usage: node interactions.mjs BASE_URL
import { GoogleGenAI } from "@google/genai";

const [baseUrl] = process.argv.slice(2);
const ai = new GoogleGenAI({ apiKey: "test-key", httpOptions: { baseUrl } });
const tools = [{ type: "code_execution" }];
const block = (code) => "Run this.\n```python\n" + code + "\n```\n";

const first = await ai.interactions.create({ model: "scripted", input: block("x = 42"), tools });
const second = await ai.interactions.create({
  model: "scripted",
  input: block("print(x)"),
  tools,
  previous_interaction_id: first.id,
});
const streamed = [];
for await (const event of await ai.interactions.create({
  model: "scripted",
  input: block("print(x + 1)"),
  tools,
  previous_interaction_id: second.id,
  stream: true,
})) {
  streamed.push(event);
}
const got = await ai.interactions.get(second.id);
await ai.interactions.delete(first.id);
let deleted = "";
try {
  await ai.interactions.get(first.id);
} catch (error) {
  deleted = error.status;
}

const result = (interaction) => interaction.steps.find((step) => step.type === "code_execution_result");
const call = (interaction) => interaction.steps.find((step) => step.type === "code_execution_call");
console.log(
  JSON.stringify({
    status: second.status,
    steps: second.steps.map((step) => step.type),
    paired: result(second).call_id === call(second).id,
    result: result(second).result,
    outputText: second.output_text ?? null,
    events: [...new Set(streamed.map((event) => event.event_type))],
    streamedResult: streamed.find((e) => e.event_type === "step.start" && e.step.type === "code_execution_result")
      ?.step.result,
    gotStatus: got.status,
    deleted,
  }),
);
