#!/usr/bin/env bash
# Re-vendors the playground's browser libraries from npm, at the pinned versions, into the package:
# src/codeloop/server/playground/vendor/. The files are committed (with their licences), so neither the
# set-up nor the server needs npm; run this only to move a pin, then review and commit the diff.
set -euo pipefail
cd "$(dirname "$0")/.."

MARKED=marked@18.2.1
DOMPURIFY=dompurify@3.4.18
HIGHLIGHT=@highlightjs/cdn-assets@11.12.0

vendor=src/codeloop/server/playground/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$MARKED" "$DOMPURIFY" "$HIGHLIGHT" >/dev/null)
for tarball in "$work"/*.tgz; do
  mkdir -p "${tarball%.tgz}"
  tar xzf "$tarball" -C "${tarball%.tgz}"
done

rm -rf "$vendor"
mkdir -p "$vendor/marked" "$vendor/dompurify" "$vendor/highlight"
cp "$work"/marked-*/package/{lib/marked.esm.js,LICENSE} "$vendor/marked/"
cp "$work"/dompurify-*/package/{dist/purify.es.mjs,LICENSE} "$vendor/dompurify/"
hl="$work"/highlightjs-cdn-assets-*/package
cp $hl/es/core.min.js $hl/LICENSE "$vendor/highlight/"
for language in python bash javascript json; do
  cp $hl/es/languages/$language.min.js "$vendor/highlight/"
done
cp $hl/styles/github.min.css "$vendor/highlight/"
{
  echo "# npm packages the files beside this one were copied from, unchanged (scripts/vendor-playground.sh)."
  printf '%s\n' "$MARKED" "$DOMPURIFY" "$HIGHLIGHT"
} >"$vendor/SOURCES"
