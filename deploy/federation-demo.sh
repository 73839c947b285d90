#!/usr/bin/env bash
# A four-unit Sealpost federation on loopback, for trying federation out.
#
#            hq (7400/7401)
#           /              \
#   traffic (7410/7411)   criminal (7420/7421)
#          |
#   district (7430/7431)
#
# district peers only with traffic, so it reaches hq and criminal through it.
#
#   deploy/federation-demo.sh [start]   create (first time) or restart the demo
#   deploy/federation-demo.sh status    which nodes run, and each one's status
#   deploy/federation-demo.sh stop      stop the nodes (SIGTERM), keep demo-data/
#
# Everything lives in ./demo-data/ (next to Package.swift): one data directory
# per node, NAME.log and NAME.pid, and the people's profiles in profiles/.
# Start over with: deploy/federation-demo.sh stop && rm -rf demo-data
#
# Binaries: $SEALPOST_BIN (a directory holding sealpost-node and sealpost),
# else .build/release, else .build/debug, else a release build.
# SEALPOST_DEMO_TIMEOUT: seconds to wait for the federation to converge (60).
set -euo pipefail
set -o errtrace
umask 077

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
DEMO="$ROOT/demo-data"
REL_DEMO="demo-data"
TIMEOUT="${SEALPOST_DEMO_TIMEOUT:-60}"
if ! [[ "$TIMEOUT" =~ ^[0-9]+$ ]] || [ "$TIMEOUT" -lt 1 ]; then
    echo "error: SEALPOST_DEMO_TIMEOUT must be a whole number of seconds, not '$TIMEOUT'" >&2
    exit 64
fi

NODES=(hq traffic criminal district)
declare -A ROUTER_PORT=([hq]=7400 [traffic]=7410 [criminal]=7420 [district]=7430)
declare -A PUB_PORT=([hq]=7401 [traffic]=7411 [criminal]=7421 [district]=7431)
# Each link is peered on both sides.
LINKS=("hq traffic" "hq criminal" "traffic district")
# user node "display name"
USERS=("chen hq Chen Jing" "wu traffic Wu Lei" "li criminal Li Na" "zhao district Zhao Min")

BIN=""
STARTED=()          # nodes this run started (for the failure message)

# --- output helpers -----------------------------------------------------------

say()  { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }

die() {
    printf 'error: %s\n' "$1" >&2
    shift || true
    local line
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    if [ ${#STARTED[@]} -gt 0 ]; then
        local alive=() n
        for n in "${STARTED[@]}"; do
            if node_pid "$n" >/dev/null; then alive+=("$n"); fi
        done
        if [ ${#alive[@]} -gt 0 ]; then
            printf '       The nodes this run started (%s) are left running so you can look at them;\n' "${alive[*]}" >&2
            printf '       stop them with: deploy/federation-demo.sh stop\n' >&2
        fi
    fi
    exit 1
}

trap 'die "unexpected failure (exit status $?) at line $LINENO: $BASH_COMMAND"' ERR

usage() {
    cat <<USAGE
usage: deploy/federation-demo.sh [start|stop|status|help]

  start   create the four-node demo federation in demo-data/ and start it,
          or restart it if it exists and is stopped (the default)
  status  show which nodes run, and each running node's status
  stop    stop the nodes (SIGTERM) and wait for them; demo-data/ is kept

Start over with: deploy/federation-demo.sh stop && rm -rf demo-data
USAGE
}

# Prints KEY's string value from a one-line JSON object (our CLIs print
# compact JSON; Z85 keys and endpoints contain no '"' or '\').
json_get() {
    sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"
}

# The path as the user would type it from the repository root.
shown() {
    case "$1" in
        "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;;
        *) printf '%s' "$1" ;;
    esac
}

# --- binaries -----------------------------------------------------------------

has_bins() { [ -x "$1/sealpost-node" ] && [ -x "$1/sealpost" ]; }

# Finds the binaries without building; returns 1 when there are none.
find_bins() {
    if [ -n "${SEALPOST_BIN:-}" ]; then
        has_bins "$SEALPOST_BIN" || die "SEALPOST_BIN=$SEALPOST_BIN does not hold both sealpost-node and sealpost" \
            "Point it at a directory with both executables, or unset it to use .build/."
        BIN="$(cd "$SEALPOST_BIN" && pwd)"
    elif has_bins "$ROOT/.build/release"; then
        BIN="$ROOT/.build/release"
    elif has_bins "$ROOT/.build/debug"; then
        BIN="$ROOT/.build/debug"
    else
        return 1
    fi
}

require_bins() {
    if ! find_bins; then
        say "no sealpost binaries in .build/: building them (release; the first build takes a while)"
        . deploy/lib/setup.sh
        sealpost_require_swift
        sealpost_install_deps
        swift build -c release --product sealpost-node
        swift build -c release --product sealpost
        BIN="$(swift build -c release --show-bin-path)"
        has_bins "$BIN" || die "the build finished but $BIN lacks sealpost-node or sealpost"
    fi
    local out
    if ! out="$("$BIN/sealpost-node" --help 2>&1 >/dev/null)"; then
        die "$BIN/sealpost-node does not run: ${out:-unknown error}" \
            "Missing libraries? deploy/quickstart.sh installs libzmq3-dev, libsodium-dev and libsqlite3-dev."
    fi
    say "using the binaries in $(shown "$BIN")"
}

node_cmd() { "$BIN/sealpost-node" "$@"; }
client_cmd() { "$BIN/sealpost" "$@"; }

# --- processes and ports --------------------------------------------------------

cmdline_of() {
    if [ -r "/proc/$1/cmdline" ]; then
        tr '\0' ' ' <"/proc/$1/cmdline"
    else
        ps -p "$1" -o args= 2>/dev/null || true
    fi
}

# Prints the pid of NODE's running process, or returns 1.
node_pid() {
    local file="$DEMO/$1.pid" pid
    [ -f "$file" ] || return 1
    pid="$(cat "$file" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: it must be our node on this data directory.
    case "$(cmdline_of "$pid")" in
        *sealpost-node*"$DEMO/$1"*) printf '%s' "$pid" ;;
        *) return 1 ;;
    esac
}

# Succeeds when something listens on 127.0.0.1:PORT (or on any address).
port_in_use() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

port_holder() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1 | sed 's/  */ /g'
    fi
}

check_ports() {
    local busy=() n port holder
    for n in "$@"; do
        for port in "${ROUTER_PORT[$n]}" "${PUB_PORT[$n]}"; do
            if port_in_use "$port"; then
                holder="$(port_holder "$port")"
                busy+=("port $port ($n's $([ "$port" = "${ROUTER_PORT[$n]}" ] && echo ROUTER || echo PUB)) is in use${holder:+: $holder}")
            fi
        done
    done
    if [ ${#busy[@]} -gt 0 ]; then
        die "the demo needs loopback ports 7400-7431 and some are taken:" "${busy[@]}" \
            "Stop whatever holds them (see: ss -ltnp | grep ':74[0-3]'), e.g. a node from" \
            "deploy/quickstart.sh or another demo, then run deploy/federation-demo.sh start again."
    fi
}

# --- the demo's state -----------------------------------------------------------

demo_complete() {
    local n entry user
    for n in "${NODES[@]}"; do [ -f "$DEMO/$n/node.yaml" ] || return 1; done
    for entry in "${USERS[@]}"; do
        read -r user _ <<<"$entry"
        [ -f "$DEMO/profiles/$user" ] || return 1
    done
}

running_nodes() {
    local n
    for n in "${NODES[@]}"; do
        if node_pid "$n" >/dev/null; then printf '%s\n' "$n"; fi
    done
}

# --- start ----------------------------------------------------------------------

create_nodes() {
    say "creating the nodes in $REL_DEMO/"
    mkdir -m 0700 "$DEMO"
    local n out
    for n in "${NODES[@]}"; do
        out="$(node_cmd init --data "$DEMO/$n" --name "$n" \
            --listen "tcp://127.0.0.1:${ROUTER_PORT[$n]}" --publish "tcp://127.0.0.1:${PUB_PORT[$n]}" --json)" \
            || die "sealpost-node init failed for $n (see above)"
        info "$(printf '%-9s router tcp://127.0.0.1:%s  publish tcp://127.0.0.1:%s  key %s' \
            "$n" "${ROUTER_PORT[$n]}" "${PUB_PORT[$n]}" "$(json_get public_key <<<"$out")")"
    done
}

exchange_keys() {
    say "peering: reading each node's 'sealpost-node info --json', 'peer add' on both sides of each link"
    declare -A KEY ROUTER PUBLISH
    local n out link a b
    for n in "${NODES[@]}"; do
        out="$(node_cmd info --data "$DEMO/$n" --json)" || die "sealpost-node info failed for $n"
        KEY[$n]="$(json_get public_key <<<"$out")"
        ROUTER[$n]="$(json_get router <<<"$out")"
        PUBLISH[$n]="$(json_get publish <<<"$out")"
        [ ${#KEY[$n]} -eq 40 ] || die "cannot read $n's public key from: $out"
    done
    for link in "${LINKS[@]}"; do
        read -r a b <<<"$link"
        # '--' because a Z85 key may start with '-'.
        node_cmd peer add --data "$DEMO/$a" -- "$b" "${ROUTER[$b]}" "${PUBLISH[$b]}" "${KEY[$b]}" >/dev/null \
            || die "peer add $b on $a failed (see above)"
        node_cmd peer add --data "$DEMO/$b" -- "$a" "${ROUTER[$a]}" "${PUBLISH[$a]}" "${KEY[$a]}" >/dev/null \
            || die "peer add $a on $b failed (see above)"
        info "$a <-> $b"
    done
}

start_node() {
    local n="$1" dir="$DEMO/$1" log="$DEMO/$1.log" pid
    printf -- '--- %s: starting %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$n" >>"$log"
    if command -v setsid >/dev/null 2>&1; then
        # Its own session: Ctrl-C in this terminal or closing it does not stop the node.
        setsid "$BIN/sealpost-node" run --data "$dir" </dev/null >>"$log" 2>&1 &
    else
        nohup "$BIN/sealpost-node" run --data "$dir" </dev/null >>"$log" 2>&1 &
    fi
    pid=$!
    printf '%s\n' "$pid" >"$DEMO/$n.pid"
    STARTED+=("$n")
}

# Waits until NODE answers on its admin socket.
wait_node_up() {
    local n="$1" pid deadline
    pid="$(cat "$DEMO/$n.pid")"
    deadline=$((SECONDS + 20))
    while ! node_cmd status --data "$DEMO/$n" --json >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$DEMO/$n.pid"
            local others=() s
            for s in "${STARTED[@]}"; do [ "$s" = "$n" ] || others+=("$s"); done
            STARTED=("${others[@]}")
            die "node $n exited right after starting; the end of $REL_DEMO/$n.log:" \
                "$(tail -n 5 "$DEMO/$n.log" | sed 's/^/  /')"
        fi
        [ $SECONDS -lt $deadline ] || die "node $n (pid $pid) does not answer 'sealpost-node status' after 20 s; see $REL_DEMO/$n.log"
        sleep 0.2
    done
}

start_nodes() {
    local n
    say "starting the nodes (logs in $REL_DEMO/NAME.log, pids in $REL_DEMO/NAME.pid)"
    for n in "$@"; do start_node "$n"; done
    for n in "$@"; do
        wait_node_up "$n"
        info "$(printf '%-9s running, pid %s' "$n" "$(cat "$DEMO/$n.pid")")"
    done
}

enrol_users() {
    say "enrolling demo users (profiles in $REL_DEMO/profiles/)"
    mkdir -p -m 0700 "$DEMO/profiles"
    local entry user node display code
    for entry in "${USERS[@]}"; do
        read -r user node display <<<"$entry"
        code="$(node_cmd invite --data "$DEMO/$node" "$user")" || die "invite $user on $node failed (see above)"
        client_cmd join "$code" --name "$display" --profile "$DEMO/profiles/$user" >/dev/null \
            || die "$user could not join $node (see above)"
        info "$(printf '%-14s %-10s profile %s' "$user@$node" "($display)" "$REL_DEMO/profiles/$user")"
    done
}

# Prints what is still missing for convergence; nothing when converged.
convergence_gaps() {
    local n other status entry user node dir
    for n in "${NODES[@]}"; do
        if ! status="$(node_cmd status --data "$DEMO/$n" --json 2>/dev/null)"; then
            printf '%s does not answer its admin socket\n' "$n"
            continue
        fi
        # The status is NodeStatus (SPEC 15.3): read its routes as JSON, not by matching text.
        python3 -c '
import json, sys
routes = {r["dest"] for r in json.loads(sys.stdin.read())["routes"]}
for other in sys.argv[2:]:
    if other != sys.argv[1] and other not in routes:
        print("%s has no route to %s" % (sys.argv[1], other))
' "$n" "${NODES[@]}" <<<"$status"
    done
    for entry in "${USERS[@]}"; do
        read -r user node _ <<<"$entry"
        if ! dir="$(client_cmd directory --json --timeout 3 --profile "$DEMO/profiles/$user" 2>/dev/null)"; then
            printf '%s cannot read the directory\n' "$user@$node"
            continue
        fi
        local e u m
        for e in "${USERS[@]}"; do
            read -r u m _ <<<"$e"
            case "$dir" in
                *"\"address\":\"$u@$m\""*) ;;
                *) printf "%s's directory lacks %s\n" "$user@$node" "$u@$m" ;;
            esac
        done
    done
}

wait_converged() {
    say "waiting for the federation to converge (routes to every node, everyone in every directory; up to ${TIMEOUT} s)"
    local start=$SECONDS gaps n
    while true; do
        for n in "${NODES[@]}"; do
            node_pid "$n" >/dev/null || die "node $n stopped while the federation was converging; the end of $REL_DEMO/$n.log:" \
                "$(tail -n 5 "$DEMO/$n.log" | sed 's/^/  /')"
        done
        gaps="$(convergence_gaps)"
        [ -z "$gaps" ] && break
        if [ $((SECONDS - start)) -ge "$TIMEOUT" ]; then
            local lines=()
            mapfile -t lines <<<"$gaps"
            die "the federation did not converge within ${TIMEOUT} s; still missing:" "${lines[@]}" \
                "Look at: $(shown "$BIN")/sealpost-node status --data $REL_DEMO/district" \
                "         tail $REL_DEMO/*.log" \
                "(raise the limit with SEALPOST_DEMO_TIMEOUT=SECONDS)"
        fi
        sleep 1
    done
    info "converged after $((SECONDS - start)) s; district's routes:"
    node_cmd status --data "$DEMO/district" | sed -n '/^DESTINATION/,/^$/p' | sed '/^$/d; s/^/      /'
}

# Sends TEXT from FROM_USER to TO_ADDRESS and shows it arriving in TO_USER's inbox.
demo_message() {
    local from="$1" to_user="$2" to_addr="$3" text="$4" out
    out="$(client_cmd send "$to_addr" "$text" --profile "$DEMO/profiles/$from")" || die "sealpost send from $from to $to_addr failed (see above)"
    info "\$ sealpost send $to_addr \"$text\" --profile $REL_DEMO/profiles/$from"
    info "$out"
    out="$(client_cmd inbox --wait 10 --profile "$DEMO/profiles/$to_user")" || die "sealpost inbox for $to_addr failed (see above)"
    info "\$ sealpost inbox --wait 10 --profile $REL_DEMO/profiles/$to_user"
    printf '%s\n' "$out" | sed 's/^/    /'
    case "$out" in
        *"$text"*) ;;
        *) die "the message to $to_addr did not arrive within 10 s" \
               "Look at: $(shown "$BIN")/sealpost-node pending --data $REL_DEMO/district --peer traffic" ;;
    esac
}

send_demo_messages() {
    say "zhao@district -> li@criminal: district -> traffic -> hq -> criminal, two relays on the way"
    demo_message zhao li li@criminal "Li, the plate you asked about was seen at the east toll gate at 14:05."
    say "wu@traffic -> chen@hq: a direct link"
    demo_message wu chen chen@hq "Chen, the weekly traffic report is ready for review."
}

print_howto() {
    cat <<HOWTO

The demo federation is running: hq, traffic, criminal, district.

Try it, from $ROOT:
  export PATH="$BIN:\$PATH"
  sealpost chat li@criminal --profile $REL_DEMO/profiles/zhao      # as zhao@district
  sealpost chat zhao@district --profile $REL_DEMO/profiles/li      # as li@criminal, in a second terminal
  sealpost directory --profile $REL_DEMO/profiles/wu               # everyone in the federation
  (profiles: $REL_DEMO/profiles/chen = chen@hq, wu = wu@traffic, li = li@criminal, zhao = zhao@district)

See what the nodes see:
  sealpost-node status --data $REL_DEMO/district                   # peers, queues, routes
  sealpost-node status --data $REL_DEMO/district --federation      # every node's announced summary
  sealpost-node pending --data $REL_DEMO/district --peer traffic   # envelopes waiting for traffic
  deploy/federation-demo.sh status
  tail -f $REL_DEMO/*.log

Break the relay and watch the journal hold the messages:
  kill \$(cat $REL_DEMO/traffic.pid)                                # stop traffic only
  sealpost send li@criminal "sent while traffic is down" --profile $REL_DEMO/profiles/zhao
  sealpost-node status --data $REL_DEMO/district                   # traffic: reconnecting, then unreachable; 1 in the journal
  sealpost-node pending --data $REL_DEMO/district --peer traffic   # the envelope waits in district's journal
  deploy/federation-demo.sh start                                   # starts traffic again; it is delivered

Stop:        deploy/federation-demo.sh stop
Start over:  deploy/federation-demo.sh stop && rm -rf $REL_DEMO
HOWTO
}

cmd_start() {
    local running=() stopped=() n
    command -v python3 >/dev/null 2>&1 || die "the demo reads 'sealpost-node status --json' with python3; install it (apt-get install python3)"
    if [ -e "$DEMO" ]; then
        [ -d "$DEMO" ] || die "$DEMO exists and is not a directory; move it away first"
        mapfile -t running < <(running_nodes)
        if [ ${#running[@]} -eq ${#NODES[@]} ]; then
            echo "The demo federation is already running in $REL_DEMO/ (nodes: ${running[*]}); nothing to do."
            echo "  deploy/federation-demo.sh status   shows how it is doing"
            echo "  deploy/federation-demo.sh stop     stops it"
            exit 1
        fi
        if ! demo_complete; then
            die "$REL_DEMO/ exists but does not hold a complete demo (did an earlier start fail?)." \
                "Its logs may say why: ls $REL_DEMO; tail $REL_DEMO/*.log" \
                "Start over with: deploy/federation-demo.sh stop && rm -rf $REL_DEMO && deploy/federation-demo.sh start"
        fi
        for n in "${NODES[@]}"; do
            case " ${running[*]} " in *" $n "*) ;; *) stopped+=("$n") ;; esac
        done
        require_bins
        if [ ${#running[@]} -gt 0 ]; then
            say "restarting the stopped nodes of the demo in $REL_DEMO/: ${stopped[*]} (already running: ${running[*]})"
        else
            say "restarting the demo federation in $REL_DEMO/"
        fi
        check_ports "${stopped[@]}"
        start_nodes "${stopped[@]}"
        wait_converged
        print_howto
        return 0
    fi

    require_bins
    # ipc:// paths (the admin socket) are limited to 107 bytes by the kernel.
    local sock="$DEMO/district/admin.sock"
    [ ${#sock} -le 107 ] || die "the path of the repository is too long for the nodes' admin sockets ($sock is ${#sock} bytes; the limit is 107)" \
        "Run the demo from a checkout with a shorter path."
    check_ports "${NODES[@]}"
    create_nodes
    exchange_keys
    start_nodes "${NODES[@]}"
    enrol_users
    wait_converged
    send_demo_messages
    print_howto
}

# --- stop -----------------------------------------------------------------------

cmd_stop() {
    if [ ! -d "$DEMO" ]; then
        echo "no demo in $REL_DEMO/: nothing to stop"
        return 0
    fi
    local n pid pids=() names=()
    for n in "${NODES[@]}"; do
        if pid="$(node_pid "$n")"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$n")
        elif [ -f "$DEMO/$n.pid" ]; then
            info "$n was not running (removing a stale $REL_DEMO/$n.pid)"
            rm -f "$DEMO/$n.pid"
        fi
    done
    if [ ${#pids[@]} -eq 0 ]; then
        echo "the demo in $REL_DEMO/ is not running"
        return 0
    fi
    say "stopping ${names[*]} (SIGTERM)"
    local deadline=$((SECONDS + 20)) i left
    while true; do
        left=()
        for i in "${!pids[@]}"; do
            if kill -0 "${pids[$i]}" 2>/dev/null; then left+=("${names[$i]} (pid ${pids[$i]})"); fi
        done
        [ ${#left[@]} -eq 0 ] && break
        if [ $SECONDS -ge $deadline ]; then
            die "still running 20 s after SIGTERM: ${left[*]}" \
                "See the end of their logs in $REL_DEMO/; force them with kill -KILL PID."
        fi
        sleep 0.2
    done
    for i in "${!pids[@]}"; do
        rm -f "$DEMO/${names[$i]}.pid"
        info "$(printf '%-9s stopped (was pid %s)' "${names[$i]}" "${pids[$i]}")"
    done
    echo "The demo is stopped; its data stays in $REL_DEMO/."
    echo "Start it again with deploy/federation-demo.sh start, or remove it with rm -rf $REL_DEMO"
}

# --- status ---------------------------------------------------------------------

cmd_status() {
    if [ ! -d "$DEMO" ]; then
        echo "no demo in $REL_DEMO/; create one with: deploy/federation-demo.sh start"
        return 3
    fi
    local have_bins=1 n pid count=0
    find_bins || have_bins=0
    for n in "${NODES[@]}"; do
        if pid="$(node_pid "$n")"; then
            count=$((count + 1))
            printf '%-9s running (pid %s)  router tcp://127.0.0.1:%s  log %s\n' "$n" "$pid" "${ROUTER_PORT[$n]}" "$REL_DEMO/$n.log"
        else
            printf '%-9s stopped\n' "$n"
        fi
    done
    if [ "$have_bins" = 1 ]; then
        for n in "${NODES[@]}"; do
            node_pid "$n" >/dev/null || continue
            printf '\n--- %s ---\n' "$n"
            node_cmd status --data "$DEMO/$n" || true
        done
    fi
    if [ $count -eq ${#NODES[@]} ]; then
        return 0
    elif [ $count -eq 0 ]; then
        echo
        echo "the demo is stopped; start it with: deploy/federation-demo.sh start"
        return 3
    else
        echo
        echo "some nodes are stopped; deploy/federation-demo.sh start starts them again"
        return 1
    fi
}

case "${1:-start}" in
    start) [ $# -le 1 ] || { usage >&2; exit 64; }; cmd_start ;;
    stop) [ $# -le 1 ] || { usage >&2; exit 64; }; cmd_stop ;;
    status) [ $# -le 1 ] || { usage >&2; exit 64; }; trap - ERR; set +e; cmd_status; exit $? ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 64 ;;
esac
