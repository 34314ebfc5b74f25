#!/usr/bin/env bash
# The Debian packages coop's documents and tests need: fonts-noto-core (Noto Sans, embedded in
# every document, and the Noto fonts that shape Kannada, Bengali and Devanagari), poppler-utils
# (pdftoppm, used by the tests to look at rendered pages) and chromium (the counter's browser
# tests drive it with Playwright; no browser download). Installs what is missing when it can
# (root or sudo without a password, apt-get present); otherwise says what to install and
# carries on. With --run (make run): only the fonts, which running coop needs.
set -uo pipefail
FONT_DIR="${COOP_FONT_DIR:-/usr/share/fonts/truetype/noto}"
missing=()
{ [ -f "$FONT_DIR/NotoSansKannada-Regular.ttf" ] && [ -f "$FONT_DIR/NotoSans-Regular.ttf" ]; } \
  || missing+=(fonts-noto-core)
if [ "${1:-}" != --run ]; then
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "Installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || { $SUDO apt-get update -q >/dev/null && \
           $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
    exit 0
  fi
fi
echo "WARNING: install ${missing[*]} (Debian/Ubuntu packages) for the documents" \
     "and their tests" >&2
