// Files attached to the next message: picked or dropped; small ones go inline, large ones through
// the Files API, as Google advises for requests over its inline limit.

export const INLINE_LIMIT = 1 << 20; // bytes: larger files are uploaded first and referenced

export class Attachments {
  constructor(list, onChange = () => {}) {
    this.list = list;
    this.files = [];
    this.onChange = onChange;
  }

  add(files) {
    for (const file of files) this.files.push(file);
    this.show();
  }

  clear() {
    this.files = [];
    this.show();
  }

  show() {
    const items = this.files.map((file, index) => {
      const item = document.createElement("li");
      item.textContent = `📎 ${file.name} (${file.size} bytes) `;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.title = `Remove ${file.name}`;
      remove.addEventListener("click", () => {
        this.files.splice(index, 1);
        this.show();
      });
      item.append(remove);
      return item;
    });
    this.list.replaceChildren(...items);
    this.onChange();
  }

  // Drops anywhere on `zone` attach the dropped files.
  acceptDrops(zone) {
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) this.add(event.dataTransfer.files);
    });
  }
}

// The parts that carry `files`: inlineData for small ones, fileData after an upload for large ones.
export async function partsFor(files, api) {
  const parts = [];
  for (const file of files) {
    const mimeType = file.type || "application/octet-stream";
    if (file.size <= INLINE_LIMIT) {
      parts.push({ inlineData: { mimeType, data: await base64Of(file), displayName: file.name } });
    } else {
      const uploaded = await api.upload(file);
      parts.push({ fileData: { mimeType: uploaded.mimeType || mimeType, fileUri: uploaded.uri, displayName: file.name } });
    }
  }
  return parts;
}

async function base64Of(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
