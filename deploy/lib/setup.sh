# Shared by quickstart.sh and test.sh: installs the Debian 12 packages Sealpost needs,
# each only if it is missing.
set -euo pipefail

# Installs those of the given Debian packages that are not installed yet (apt-get update first).
# The first argument says what they are for, in the progress line.
sealpost_install_packages() {
    local purpose=$1
    shift
    local need=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -eq 0 ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "==> installing ${need[*]} ($purpose)"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
}

# The C libraries Sealpost links against.
sealpost_install_deps() {
    sealpost_install_packages "the C libraries" libzmq3-dev libsodium-dev libsqlite3-dev
}

sealpost_require_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: swift is not on PATH; install Swift 6 (swift.org) first" >&2
        exit 1
    fi
}
