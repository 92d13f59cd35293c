// Reads a `?alt=sse` response: yields each `data:` event's JSON as it arrives.

export async function* sseEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = eventEnd(buffer)) !== null) {
      const event = buffer.slice(0, end.at);
      buffer = buffer.slice(end.at + end.length);
      const data = dataOf(event);
      if (data !== null) yield JSON.parse(data);
    }
  }
  const data = dataOf(buffer);
  if (data !== null && data.trim()) yield JSON.parse(data);
}

// Events end with a blank line, whichever line ending the server uses.
function eventEnd(buffer) {
  const match = /\r\n\r\n|\n\n|\r\r/.exec(buffer);
  return match ? { at: match.index, length: match[0].length } : null;
}

function dataOf(event) {
  const lines = event.split(/\r\n|\n|\r/).filter((line) => line.startsWith("data:"));
  if (!lines.length) return null;
  return lines.map((line) => line.slice(5).replace(/^ /, "")).join("\n");
}
