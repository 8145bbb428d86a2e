#!/usr/bin/env bash
# Installs what smpd needs to build, run and test on Debian 12, with apt-get,
# only when something is missing. The package list below is the single source
# of truth; README.md lists the same packages.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git   # toolchain
  libserialport-dev                      # serial ports (real devices)
  libzmq3-dev                            # ZeroMQ status and control
  libconfig-dev                          # configuration files
  libjansson-dev                         # JSON plans and messages
  clang                                  # libFuzzer targets, sanitizers
  clang-tidy cppcheck                    # static analysis
  valgrind                               # memcheck of the end-to-end test
  lcov                                   # scripts/coverage.sh's report
  python3 python3-zmq                    # the example dashboard subscriber
  libwebsockets-dev                      # smpweb: HTTP and WebSocket
  chromium                               # smpweb's browser test (headless)
  openssl                                # smpweb's TLS test certificate
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the browser test's driver (playwright-core): Debian's, unless
# a node is already there (another packaging of it would conflict).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) for apt-get" >&2; exit 1; }
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser test's one npm dependency (playwright-core, driving Debian's
# chromium; it downloads no browser), pinned by the committed lock file.
cd "$(dirname "$0")/../tests/web"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
