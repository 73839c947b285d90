# Shared by quickstart.sh and test.sh: installs the C libraries Sealpost links
# against (Debian 12 packages), if any is missing.
set -euo pipefail

sealpost_install_deps() {
    local need=()
    for pkg in libzmq3-dev libsodium-dev libsqlite3-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "==> installing ${need[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
}

sealpost_require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: swift is not on PATH; install Swift 6 (swift.org) first" >&2
        exit 1
    fi
}
