#!/usr/bin/env bash
# The whole test suite: install what is missing, build everything (the
# end-to-end tests run the executables), run unit, node and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib/setup.sh
sealpost_require_swift
sealpost_install_deps

swift build --build-tests
swift test
