// Syntax highlighting with highlight.js's core and the few languages the playground shows.

import hljs from "../vendor/highlight/core.min.js";
import python from "../vendor/highlight/python.min.js";
import bash from "../vendor/highlight/bash.min.js";
import javascript from "../vendor/highlight/javascript.min.js";
import json from "../vendor/highlight/json.min.js";

hljs.registerLanguage("python", python);
hljs.registerLanguage("bash", bash);
hljs.registerLanguage("javascript", javascript);
hljs.registerLanguage("json", json);

// Fills `element` with `code` highlighted; highlight.js escapes the code, so the markup it returns
// holds only its own spans.
export function highlightInto(element, code, language) {
  if (language && hljs.getLanguage(language)) {
    element.innerHTML = hljs.highlight(code, { language, ignoreIllegals: true }).value;
    element.classList.add("hljs");
  } else {
    element.textContent = code;
  }
}
