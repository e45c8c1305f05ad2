#!/usr/bin/env bash
# What the browser app needs on this machine: Chinese fonts (the cockpit's screenshots and any
# local browser render 中文 with them), and for the browser tests Debian's Chromium, which
# Playwright drives (no browser download: the machine has no internet for that).
#   scripts/ensure-browser.sh          fonts and Chromium (make test)
#   scripts/ensure-browser.sh fonts    fonts only (make demo)
set -euo pipefail

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
UPDATED=""
apt_install() {
  if [ -z "$UPDATED" ]; then
    $SUDO apt-get update -qq
    UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if fc-list 2>/dev/null | grep -q "Noto Sans CJK SC" || [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
  echo "fonts: Noto Sans CJK installed"
else
  echo "fonts: installing fonts-noto-cjk"
  apt_install fonts-noto-cjk fontconfig
fi

if [ "${1:-all}" = "fonts" ]; then exit 0; fi

if [ -x /usr/bin/chromium ]; then
  echo "chromium: installed"
else
  echo "chromium: installing Debian's chromium"
  apt_install chromium
fi
