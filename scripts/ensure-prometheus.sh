#!/usr/bin/env bash
# Installs Debian's Prometheus server (used by the tests and the demo) when it is missing.
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "prometheus is missing: run 'sudo apt-get install -y prometheus' and try again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# Debian's package would start a service on systemd machines; the tests start their own.
command -v prometheus >/dev/null
