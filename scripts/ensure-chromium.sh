#!/usr/bin/env bash
# Installs Debian's Chromium (the browser tests load the HTML reports in it headless) and fonts
# for text and the status emoji, so screenshots show what a reader sees, when they are missing.
set -euo pipefail
if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto color emoji"; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is missing: run 'sudo apt-get install -y chromium fonts-dejavu-core fonts-noto-color-emoji' and try again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-noto-color-emoji fontconfig >/dev/null
command -v chromium >/dev/null
