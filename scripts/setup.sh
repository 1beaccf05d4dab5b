#!/usr/bin/env bash
# Set up whatever is missing, incrementally: the project venv (.venv), the Neo4j jars
# (.neo4j/dist) and, with --browser, Debian's headless Chromium for the Browser tests.
# A second run only checks stamps and exits in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "usage: scripts/setup.sh [--browser]" >&2; exit 2 ;;
  esac
done

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "Python 3.11 is required (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11"
command -v java >/dev/null 2>&1 || die "Java 17+ is required for Neo4j (Debian: apt-get install openjdk-17-jre-headless)"
command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch the Neo4j jars (Debian: apt-get install maven)"

# 1. Python venv, reinstalled only when the pins change.
stamp=.venv/.ikg-requirements
digest=$(cat requirements.txt constraints.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  start=$(date +%s)
  log "installing pinned Python packages into .venv (cold: ~2 min, downloads ~3 GB)"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e . 2>/dev/null
  echo "$digest" > "$stamp"
  log "venv ready in $(( $(date +%s) - start )) s"
fi

# 2. Neo4j server, Browser and plugin jars from Maven Central (skipped when present).
.venv/bin/ikg server install >/dev/null

# 3. Headless Chromium for the Browser screenshot tests.
if [ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian chromium for the Browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || log "warning: could not install chromium; Browser screenshot tests will be skipped"
  else
    log "warning: chromium missing and not root; Browser screenshot tests will be skipped"
  fi
fi
log "setup complete"
