// One turn of the conversation on screen: text as markdown, code highlighted, results as text only,
// figures inline, generated files downloadable, errors as Google reports them.

import { renderMarkdown } from "./markdown.js";
import { highlightInto } from "./highlight.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function userTurn(container, text, files) {
  const turn = element("article", "turn user");
  turn.append(element("div", "role", "You"));
  if (text) turn.append(element("div", "user-text", text));
  for (const file of files) turn.append(element("div", "attachment-note", `📎 ${file.name}`));
  container.append(turn);
  turn.scrollIntoView({ block: "end" });
}

const OUTCOME_LABELS = {
  OUTCOME_OK: "ok",
  OUTCOME_FAILED: "failed",
  OUTCOME_DEADLINE_EXCEEDED: "deadline exceeded",
};

export class ModelTurn {
  constructor(container, api) {
    this.api = api;
    this.node = element("article", "turn model");
    this.node.append(element("div", "role", "Model"));
    this.body = element("div", "parts");
    this.node.append(this.body);
    container.append(this.node);
    this.text = null; // the text segment being streamed: { node, source }
    this.blocks = new Map(); // code block id -> its result's output element
    this.lastBlock = null;
  }

  scroll() {
    this.node.scrollIntoView({ block: "end" });
  }

  addText(text, thought = false) {
    if (!this.text || this.text.thought !== thought) {
      const node = element("div", thought ? "text thought" : "text");
      this.body.append(node);
      this.text = { node, source: "", thought };
    }
    this.text.source += text;
    renderMarkdown(this.text.source, this.text.node);
  }

  addCode(executableCode) {
    this.text = null;
    const block = element("div", "code-block");
    const pre = element("pre");
    const code = element("code", "language-python");
    highlightInto(code, executableCode.code || "", (executableCode.language || "python").toLowerCase());
    pre.append(code);
    const result = element("div", "result pending");
    const status = element("div", "result-status", "running…");
    const output = element("pre", "output");
    result.append(status, output);
    block.append(pre, result);
    this.body.append(block);
    const entry = { result, status, output, live: "" };
    if (executableCode.id) this.blocks.set(executableCode.id, entry);
    this.lastBlock = entry;
    this.scroll();
  }

  blockFor(id) {
    return (id && this.blocks.get(id)) || this.lastBlock;
  }

  // A codeExecutionResult: without an outcome it is live output, text to append while the block runs;
  // with one it is the block's whole result, replacing whatever arrived live.
  addResult(result, partMetadata) {
    this.text = null;
    let entry = this.blockFor(result.id);
    if (!entry) {
      this.addCode({ code: "", id: result.id });
      entry = this.lastBlock;
    }
    if (!result.outcome) {
      entry.live += result.output || "";
      entry.output.textContent = entry.live;
      entry.result.classList.add("live");
      this.scroll();
      return;
    }
    entry.output.textContent = result.output || "";
    entry.result.classList.remove("pending", "live");
    entry.result.classList.add(result.outcome === "OUTCOME_OK" ? "ok" : "failed");
    entry.result.dataset.outcome = result.outcome;
    const label = OUTCOME_LABELS[result.outcome] || result.outcome;
    const stats = (partMetadata && partMetadata.executionStats) || null;
    entry.status.textContent = stats ? `${label} · ${statsText(stats)}` : label;
    this.scroll();
  }

  // A file code wrote: inline bytes (figures shown, everything downloadable) or a Files API link.
  addInlineFile(blob) {
    this.text = null;
    const bytes = Uint8Array.from(atob(blob.data || ""), (c) => c.charCodeAt(0));
    const mimeType = blob.mimeType || "application/octet-stream";
    const url = URL.createObjectURL(new Blob([bytes], { type: mimeType }));
    const name = blob.displayName || "file";
    const file = element("div", "generated-file");
    if (mimeType.startsWith("image/")) {
      const img = element("img", "figure");
      img.src = url;
      img.alt = name;
      file.append(img);
    }
    const link = element("a", "download", `⬇ ${name}`);
    link.href = url;
    link.download = name;
    file.append(link);
    this.body.append(file);
    this.scroll();
  }

  addLinkedFile(fileData) {
    this.text = null;
    const name = fileData.displayName || fileData.fileUri;
    const file = element("div", "generated-file");
    const button = element("button", "download", `⬇ ${name}`);
    button.type = "button";
    button.addEventListener("click", async () => {
      try {
        const blob = await this.api.download(fileData.fileUri);
        const link = element("a");
        link.href = URL.createObjectURL(blob);
        link.download = name;
        link.click();
      } catch (err) {
        this.addError(err);
      }
    });
    file.append(button);
    this.body.append(file);
  }

  addError(err) {
    this.text = null;
    this.body.append(errorBox(err));
    this.scroll();
  }

  stopped() {
    for (const entry of this.blocks.values()) {
      if (entry.result.classList.contains("pending")) entry.status.textContent = "stopped";
    }
    this.node.append(element("div", "turn-footer muted", "Stopped."));
  }

  finish(candidate, usage) {
    for (const entry of this.blocks.values()) {
      if (entry.result.classList.contains("pending")) entry.status.textContent = "no result";
    }
    const notes = [];
    if (candidate && candidate.finishReason && candidate.finishReason !== "STOP") {
      notes.push(`finish: ${candidate.finishReason}${candidate.finishMessage ? ` (${candidate.finishMessage})` : ""}`);
    }
    if (usage) notes.push(`${usage.totalTokenCount ?? 0} tokens`);
    if (notes.length) this.node.append(element("div", "turn-footer muted", notes.join(" · ")));
  }
}

function statsText(stats) {
  const parts = [];
  if (stats.cpuMs !== undefined) parts.push(`CPU ${Number(stats.cpuMs).toFixed(0)} ms`);
  if (stats.wallMs !== undefined) parts.push(`wall ${Number(stats.wallMs).toFixed(0)} ms`);
  if (stats.peakMemoryBytes !== undefined) parts.push(`memory ${(stats.peakMemoryBytes / 2 ** 20).toFixed(1)} MiB`);
  return parts.join(" · ");
}

// An error as Google reports it: its code and status, its message, and the body as it came.
export function errorBox(err) {
  const box = element("div", "error");
  const body = err.body || { error: { code: 0, message: String(err.message || err), status: "UNKNOWN" } };
  const error = body.error || {};
  box.append(element("strong", "error-status", `${error.code ?? ""} ${error.status ?? ""}`.trim()));
  box.append(element("div", "error-message", error.message ?? ""));
  box.append(element("pre", "error-body", JSON.stringify(body, null, 2)));
  return box;
}
