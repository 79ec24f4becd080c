#!/usr/bin/env bash
# Fetches Swagger UI's script and style sheet (npm package swagger-ui-dist, pinned) into the docs
# function, so the docs page works offline. Without npm the page falls back to a CDN.
set -euo pipefail
version=5.35.0
target="$(dirname "$0")/../functions/api_docs/swagger_ui"
if ! command -v npm >/dev/null; then
  echo "npm not found: /docs will load Swagger UI from a CDN" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
mkdir -p "$target"
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" "$work/package/LICENSE" "$target/"
echo "Swagger UI $version installed in functions/api_docs/swagger_ui"
