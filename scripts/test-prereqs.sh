#!/usr/bin/env bash
# What `make test` needs beyond Python: PostgreSQL and Redis running on their
# default local ports, promtool / amtool / prometheus for the monitoring tests,
# and Chromium with a CJK font for the console's browser tests. Starts or
# installs what is missing when it can (root with apt-get); otherwise says what
# to do. Tests that need something absent skip with the
# reason, or fail under CI=true.
set -uo pipefail

note() { echo "test-prereqs: $*" >&2; }

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for version in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || note "PostgreSQL is not answering on 127.0.0.1:5432"
fi

if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null \
    || note "could not start redis-server on 127.0.0.1:6379"
fi

missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
# The console's browser tests: Debian's Chromium (Playwright drives it; its own browser
# download is not needed) and a CJK font, so that Chinese pages render as text.
command -v chromium >/dev/null || missing+=(chromium)
if ! command -v fc-list >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  missing+=(fonts-wqy-microhei)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 \
           && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
      || note "could not install ${missing[*]} with apt-get"
  else
    note "missing ${missing[*]} (Debian packages); install them: sudo apt-get install ${missing[*]}"
  fi
fi
exit 0
