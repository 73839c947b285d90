# Shared by test.sh: what the browser test needs (Debian 12 packages), installed if missing:
# headless Chromium, its WebDriver, Selenium (Debian's python3-selenium, so no pip and no
# virtualenv) and a CJK font, so that the screenshots show the Chinese UI.
set -euo pipefail

sealpost_install_browser_deps() {
    local need=()
    for pkg in chromium chromium-driver python3-selenium fonts-wqy-microhei; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "==> installing ${need[*]} (for the browser test)"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
}
