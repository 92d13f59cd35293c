// Model text to safe DOM: markdown (marked), raw HTML shown as text, sanitised (DOMPurify), code highlighted.

import { Marked } from "../vendor/marked/marked.esm.js";
import DOMPurify from "../vendor/dompurify/purify.es.mjs";
import { highlightInto } from "./highlight.js";

const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => escapes[c]);

// Model text is untrusted: HTML in it is shown as the characters it is, never parsed as markup.
const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html(token) {
      return escapeHtml(token.text);
    },
  },
});

export function renderMarkdown(text, into) {
  const html = marked.parse(text, { async: false });
  // Sanitising after escaping is belt and braces: should a marked bug let markup through, it is inert.
  const clean = DOMPurify.sanitize(html, { RETURN_DOM_FRAGMENT: true, FORBID_TAGS: ["style", "form"] });
  for (const link of clean.querySelectorAll("a[href]")) {
    link.setAttribute("rel", "noopener noreferrer");
    link.setAttribute("target", "_blank");
  }
  for (const code of clean.querySelectorAll("pre code")) {
    const language = (code.className.match(/language-(\S+)/) || [])[1];
    highlightInto(code, code.textContent, language);
  }
  into.replaceChildren(clean);
}
