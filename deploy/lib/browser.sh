# Shared by test.sh: what the browser test needs (Debian 12 packages), installed if missing:
# headless Chromium, its WebDriver, Selenium (Debian's python3-selenium, so no pip and no
# virtualenv), a CJK font and an emoji font, so that the screenshots show the Chinese UI and its icons.
# Needs deploy/lib/setup.sh (sealpost_install_packages).
set -euo pipefail

sealpost_install_browser_deps() {
    sealpost_install_packages "for the browser test" chromium chromium-driver python3-selenium fonts-wqy-microhei fonts-noto-color-emoji
}
