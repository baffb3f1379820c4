#!/usr/bin/env bash
# Installs everything subrun's tests and benchmarks need on a fresh Debian machine:
# the Debian packages (python-subunit and its tools, testrepository, OpenSSH for the
# ssh transport tests, Chromium for the dashboard test), then the npm packages,
# which also builds dist/ (npm's `prepare`).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(python3-subunit subunit testrepository python3-testtools python3-testscenarios openssh-server openssh-client chromium hyperfine)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# `npm install`, not `npm ci`: npm 11 here refuses `npm ci` on a lock file that records only
# this platform's optional msgpackr-extract binary (it reports the others as missing).
# install still follows package-lock.json; `prepare` builds dist/ and runs `tap build`: tap
# compiles its plugin set from package.json's "tap" config, and without that step its first
# run starts every test file with tap's default plugins (tsx's loader among them, which
# then loads ambiguous .js test files as CommonJS inside our test-server workers).
npm install --no-audit --no-fund
