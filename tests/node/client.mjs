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
// An input file, read by the code, and a written file returned.
const withFile = await ai.models.generateContent({
  model: "scripted",
  contents: [
    { inlineData: { mimeType: "text/csv", data: Buffer.from("a,b\n1,2\n").toString("base64") } },
    "```python\nimport pandas as pd\npd.read_csv('input_file_0.csv').to_json('out.json')\n" +
      "open('blob.bin', 'wb').write(bytes(range(256)))\nprint('ok')\n```",
  ],
  config: { tools: [{ codeExecution: {} }] },
});
const returned = (name) => withFile.candidates[0].content.parts.find((part) => part.inlineData?.displayName === name);
const written = returned("out.json");
// Every byte value, sent back as standard base64 (Buffer reads either alphabet).
const blob = Buffer.from(returned("blob.bin").inlineData.data, "base64");

// A function call to the client, then its response sent back.
const question = 'Weather?\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n';
const functions = {
  tools: [
    {
      functionDeclarations: [
        {
          name: "get_weather",
          parameters: { type: "OBJECT", properties: { city: { type: "STRING" } }, required: ["city"] },
        },
      ],
    },
  ],
};
const called = await ai.models.generateContent({ model: "scripted", contents: question, config: functions });
const answered = await ai.models.generateContent({
  model: "scripted",
  contents: [
    { role: "user", parts: [{ text: question }] },
    called.candidates[0].content,
    { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { celsius: 21 } } }] },
  ],
  config: functions,
});

console.log(
  JSON.stringify({
    fileResult: withFile.codeExecutionResult,
    written: { name: written.inlineData.displayName, data: Buffer.from(written.inlineData.data, "base64").toString() },
    blobIntact: blob.equals(Buffer.from([...Array(256).keys()])),
    blobBase64: returned("blob.bin").inlineData.data,
    ids: response.candidates[0].content.parts.map((part) => (part.executableCode ?? part.codeExecutionResult)?.id ?? null),
    functionCalls: called.functionCalls.map(({ name, args }) => ({ name, args })),
    functionCallIds: called.functionCalls.map(({ id }) => id),
    answered: answered.text,
    parts: response.candidates[0].content.parts.map((part) => Object.keys(part)[0]),
    executableCode: response.executableCode,
    codeExecutionResult: response.codeExecutionResult,
    finishReason: response.candidates[0].finishReason,
    totalTokenCount: response.usageMetadata.totalTokenCount,
    streamed,
  }),
);
