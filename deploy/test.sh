#!/usr/bin/env bash
# The whole test suite: install what is missing, build everything (the
# end-to-end tests run the executables), run unit, node and end-to-end tests,
# then the web client in a real headless browser (Tests/Browser/web_ui_test.py).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib/setup.sh
. deploy/lib/browser.sh
sealpost_require_swift
sealpost_install_deps
sealpost_install_browser_deps

swift build --build-tests
swift test
# Screenshots go to the build folder here; docs/screenshots holds the committed ones.
/usr/bin/python3 Tests/Browser/web_ui_test.py "$(swift build --show-bin-path)" .build/screenshots
