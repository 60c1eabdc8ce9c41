#!/usr/bin/env bash
# Installs what the APPS sandbox needs on a fresh Debian 12 machine: bubblewrap, Debian's
# python3 with numpy (the interpreter used inside the sandbox), libseccomp, and the
# pinned Python packages the host side uses. Idempotent: does nothing when all is there.
#   --system-only   the Debian side only, not the virtualenv's packages (CI installs the system
#                   side while pip is still filling the virtualenv)
set -euo pipefail
system_only=0
case "${1:-}" in
  "") ;;
  --system-only) system_only=1 ;;
  *) echo "install-sandbox: unknown argument '$1' (the only option is --system-only)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
[ -x /usr/bin/python3 ] || need+=(python3)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
ldconfig -p 2>/dev/null | grep -q libseccomp.so.2 || need+=(libseccomp2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-sandbox: need root to apt-get install ${need[*]}" >&2; exit 1
  fi
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
PY="${VENV:-.venv}/bin/python"
if [ "$system_only" -eq 0 ] && [ -x "$PY" ]; then
  for pin in $(grep -E '^(pyseccomp|docker)==' requirements/cpu.txt); do
    "$PY" -c "import importlib.metadata as m, sys; n, v = sys.argv[1].split('=='); sys.exit(m.version(n) != v)" "$pin" 2>/dev/null \
      || "$PY" -m pip install -q "$pin"
  done
fi
bwrap --version
# Java tests (the unit-test study): JDK, JUnit 4, JaCoCo.
bash .ci/install-java.sh
