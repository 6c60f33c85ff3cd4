#!/usr/bin/env bash
# Installs Debian's single-node VictoriaMetrics (the tests' second PromQL engine) when it is missing.
set -euo pipefail
if command -v victoria-metrics >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "victoria-metrics is missing: run 'sudo apt-get install -y victoria-metrics' and try again" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends victoria-metrics >/dev/null
# Debian's package would start a service on systemd machines; the tests start their own.
command -v victoria-metrics >/dev/null
