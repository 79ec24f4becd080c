#!/usr/bin/env bash
# Installs Debian's chromium, the browser the browser tests drive through Playwright (the pip
# package, pinned in requirements/dev.txt, brings the driver; the browser comes from Debian so that
# nothing is downloaded from a browser CDN). Root runs apt-get itself; anyone else through sudo.
set -euo pipefail
browser=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$browser" ]; then
  "$browser" --version
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "no apt-get here: install Chromium and run with CHROMIUM=/path/to/chromium" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium
"$browser" --version
