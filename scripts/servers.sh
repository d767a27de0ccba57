# shellcheck shell=bash
# Install, start and stop the real test servers (Azurite, s3s-fs, moto).
# A library: `source scripts/servers.sh`, then e.g.
#
#   install_all
#   servers_init; trap stop_all EXIT
#   start_azurite; start_azurite_https; start_s3s; start_moto
#   print_exports
#
# See shared/TEST-SERVERS.md (beside the repo, not in it) for why each
# version and flag is what it is.
#
# Installs live in a cache folder outside the work tree and are reused:
#   $BLOBIO_TEST_CACHE/azurite/   npm prefix (node_modules/azurite/...)
#   $BLOBIO_TEST_CACHE/s3s-fs/    cargo install root (bin/s3s-fs)
#   $BLOBIO_TEST_CACHE/venv/      Python venv with moto, boto3, azure-storage-blob
#   $BLOBIO_TEST_CACHE/venv/.blobio-requirements   marker: written last
#   $BLOBIO_TEST_CACHE/cmake/     Python venv holding the pinned cmake (PyPI wheel),
#                                 for the install test's find_package(blobio)
#   $BLOBIO_TEST_CACHE/s3s-fs.build/  cargo's build dir, only while installing
#   $BLOBIO_TEST_CACHE/.NAME.lock     serialise concurrent installs of NAME
# Each server's logs and data go in a per-run temp folder, $BLOBIO_RUN_DIR.

BLOBIO_TEST_CACHE="${BLOBIO_TEST_CACHE:-$HOME/.cache/blobio-test}"

AZURITE_VERSION=3.35.0        # 3.36+ needs Node 21
CMAKE_VERSION=4.4.4           # PyPI's cmake wheel: a registry install, no download of our own
S3S_FS_VERSION=0.14.1         # 0.15+ needs a newer rustc than the machines had
# What the tests' Python needs, and every package it pulls in pinned to the set
# resolved and tried here (pip freeze), so a new upstream release can't break a
# cold install. A change here rebuilds the venv (the marker records both).
PY_REQUIREMENTS=(
    "moto[s3]==5.2.5" "flask==3.1.3" "flask-cors==6.0.5"
    "boto3==1.44.5" "azure-storage-blob==12.31.1"
)
PY_CONSTRAINTS=(
    azure-core==1.41.0 blinker==1.9.0 botocore==1.44.5 certifi==2026.10.18
    cffi==2.1.1 charset-normalizer==3.5.2 click==8.5.1 cryptography==50.0.2
    idna==3.20 isodate==0.7.2 itsdangerous==2.2.0 Jinja2==3.1.6 jmespath==1.1.0
    MarkupSafe==3.0.4 py-partiql-parser==0.6.3 pycparser==3.12
    python-dateutil==2.9.0.post0 PyYAML==6.0.3 requests==2.34.2 responses==0.26.3
    s3transfer==0.19.3 six==1.17.0 typing_extensions==4.16.0 urllib3==2.8.0
    Werkzeug==3.1.9 xmltodict==1.0.4
)

# Test credentials. Not secrets: they exist only for local test servers.
S3S_ACCESS_KEY=blobio-test-access
S3S_SECRET_KEY=blobio-test-secret-not-a-real-secret
AZURITE_ACCOUNT=devstoreaccount1
# The well-known public Azurite / storage emulator development key.
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

BLOBIO_SERVER_PIDS=()      # PIDs this shell started, stopped by stop_all
BLOBIO_SERVER_NAMES=()
BLOBIO_SERVER_OWNER=""     # $BASHPID of the shell that started them
BLOBIO_RUN_DIR=""

_log() { printf '[servers] %s\n' "$*" >&2; }
_die() { printf '[servers] ERROR: %s\n' "$*" >&2; return 1; }

# --- installs -------------------------------------------------------------
# Each install goes to a temporary name and is moved (or marked) complete only
# at the end, so an interrupted install is redone, never mistaken for done.

azurite_main() { printf '%s' "$BLOBIO_TEST_CACHE/azurite/node_modules/azurite/dist/src/blob/main.js"; }
s3s_bin()      { printf '%s' "$BLOBIO_TEST_CACHE/s3s-fs/bin/s3s-fs"; }
venv_dir()     { printf '%s' "$BLOBIO_TEST_CACHE/venv"; }

# _with_install_lock NAME CMD...: run CMD holding $BLOBIO_TEST_CACHE/.NAME.lock,
# so two runs never install the same thing at once (the second then reuses it).
_with_install_lock() {
    local name=$1; shift
    mkdir -p "$BLOBIO_TEST_CACHE" || return 1
    if ! command -v flock >/dev/null; then "$@"; return; fi
    local fd rc=0
    exec {fd}>"$BLOBIO_TEST_CACHE/.$name.lock"
    flock "$fd"
    "$@" || rc=$?
    flock -u "$fd"
    exec {fd}>&-
    return "$rc"
}

_install_azurite() {
    local dest="$BLOBIO_TEST_CACHE/azurite" tmp pkg
    pkg="$dest/node_modules/azurite/package.json"
    if [[ -f "$(azurite_main)" && -f "$pkg" ]] \
        && grep -q "\"version\": \"$AZURITE_VERSION\"" "$pkg"; then
        return 0
    fi
    _log "installing azurite@$AZURITE_VERSION into $dest"
    local t0=$SECONDS
    tmp="$dest.tmp.$$"
    rm -rf "$dest".tmp.*; mkdir -p "$tmp"   # also what an interrupted run left
    # cd away from the work tree so no project .npmrc applies.
    if ! (cd "$tmp" && npm install --prefix "$tmp" --no-audit --no-fund \
            --loglevel=error "azurite@$AZURITE_VERSION" >&2); then
        rm -rf "$tmp"; _die "npm install azurite@$AZURITE_VERSION failed"; return 1
    fi
    rm -rf "$dest" && mv "$tmp" "$dest" || return 1
    _log "azurite installed in $((SECONDS - t0)) s"
}

_install_s3s() {
    local dest="$BLOBIO_TEST_CACHE/s3s-fs" tmp out
    if [[ -x "$(s3s_bin)" ]] && out=$("$(s3s_bin)" --version 2>&1) \
        && [[ $out == *"$S3S_FS_VERSION"* ]]; then
        return 0
    fi
    _log "installing s3s-fs $S3S_FS_VERSION into $dest (about 2 min cold)"
    local t0=$SECONDS
    tmp="$dest.tmp.$$"
    rm -rf "$dest".tmp.*   # also what an interrupted run left
    # Build dir kept until success, so an interrupted build resumes.
    # cd away from the work tree so no rust-toolchain / .cargo/config applies.
    if ! (cd "$BLOBIO_TEST_CACHE" && CARGO_TARGET_DIR="$BLOBIO_TEST_CACHE/s3s-fs.build" \
            cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary \
            --locked --root "$tmp" >&2); then
        rm -rf "$tmp"; _die "cargo install s3s-fs $S3S_FS_VERSION failed"; return 1
    fi
    rm -rf "$dest" && mv "$tmp" "$dest" || return 1
    rm -rf "$BLOBIO_TEST_CACHE/s3s-fs.build"
    _log "s3s-fs installed in $((SECONDS - t0)) s"
}

_install_venv() {
    local venv marker want
    venv=$(venv_dir); marker="$venv/.blobio-requirements"
    # A venv is tied to its interpreter and path: record both in the marker.
    want="$(python3 -c 'import sys; print(sys.version.split()[0])') $venv"
    want+=" ${PY_REQUIREMENTS[*]} ${PY_CONSTRAINTS[*]}"
    if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -x "$venv/bin/moto_server" ]]; then
        return 0
    fi
    _log "creating venv $venv: ${PY_REQUIREMENTS[*]}"
    local t0=$SECONDS
    # A venv can't be moved (its scripts hold absolute paths), so build it in
    # place and write the marker last.
    rm -rf "$venv"
    if ! (python3 -m venv "$venv" \
            && printf '%s\n' "${PY_CONSTRAINTS[@]}" > "$venv/constraints.txt" \
            && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                -c "$venv/constraints.txt" "${PY_REQUIREMENTS[@]}" >&2); then
        rm -rf "$venv"; _die "creating the Python venv failed"; return 1
    fi
    printf '%s' "$want" > "$marker.tmp" && mv "$marker.tmp" "$marker" || return 1
    _log "venv ready in $((SECONDS - t0)) s"
}

cmake_bin() { printf '%s' "$BLOBIO_TEST_CACHE/cmake/bin/cmake"; }

# cmake is not a server, but like them it is installed once into the cache
# (a venv of its own, so the servers' venv and its marker stay as they are).
_install_cmake() {
    local venv="$BLOBIO_TEST_CACHE/cmake" marker want
    marker="$venv/.blobio-requirements"
    want="$(python3 -c 'import sys; print(sys.version.split()[0])') $venv cmake==$CMAKE_VERSION"
    if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -x "$(cmake_bin)" ]]; then
        return 0
    fi
    _log "creating venv $venv: cmake==$CMAKE_VERSION"
    local t0=$SECONDS
    rm -rf "$venv"
    if ! (python3 -m venv "$venv" \
            && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
                "cmake==$CMAKE_VERSION" >&2); then
        rm -rf "$venv"; _die "installing cmake $CMAKE_VERSION failed"; return 1
    fi
    printf '%s' "$want" > "$marker.tmp" && mv "$marker.tmp" "$marker" || return 1
    _log "cmake ready in $((SECONDS - t0)) s"
}

install_cmake()   { _with_install_lock cmake _install_cmake; }
install_azurite() { _with_install_lock azurite _install_azurite; }
install_s3s()     { _with_install_lock s3s-fs _install_s3s; }
install_venv()    { _with_install_lock venv _install_venv; }
install_all()     { install_venv && install_azurite && install_s3s && install_cmake; }

# --- ports ----------------------------------------------------------------

free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_pid_alive() {   # alive and not a zombie
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ -n $st && $st != Z* ]]
}

# wait_port PORT [TIMEOUT_S [PID [LOG]]]: wait until 127.0.0.1:PORT accepts TCP.
# Fails early if PID dies; on failure prints the tail of LOG.
wait_port() {
    local port=$1 timeout=${2:-30} pid=${3:-} log=${4:-} deadline
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if [[ -n $pid ]] && ! _pid_alive "$pid"; then
            _log "process $pid exited before listening on port $port"
            break
        fi
        sleep 0.2
    done
    ((SECONDS < deadline)) || _log "port $port not ready after ${timeout} s"
    if [[ -n $log && -f $log ]]; then
        _log "last lines of $log:"
        tail -n 40 "$log" >&2
    fi
    return 1
}

# --- start / stop ---------------------------------------------------------

servers_init() {   # make the per-run temp folder
    BLOBIO_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/blobio-test.XXXXXX") || return 1
    mkdir -p "$BLOBIO_RUN_DIR/logs"
}

# _start NAME PORT CMD...: start CMD in the background (cwd = run dir), record
# its PID, wait for PORT.
_start() {
    local name=$1 port=$2; shift 2
    [[ -n $BLOBIO_RUN_DIR ]] || servers_init || return 1
    local log="$BLOBIO_RUN_DIR/logs/$name.log"
    # `exec` so the recorded PID is the server itself, not a wrapper shell.
    (cd "$BLOBIO_RUN_DIR" && exec "$@") </dev/null >"$log" 2>&1 &
    local pid=$!
    BLOBIO_SERVER_PIDS+=("$pid"); BLOBIO_SERVER_NAMES+=("$name")
    BLOBIO_SERVER_OWNER=$BASHPID   # their parent: stop_all checks it
    if ! wait_port "$port" 30 "$pid" "$log"; then
        _die "$name did not start (log: $log)"; return 1
    fi
    _log "$name listening on 127.0.0.1:$port (pid $pid)"
}

start_azurite() {
    local port; port=$(free_port) || return 1
    [[ -f "$(azurite_main)" ]] || { _die "azurite not installed (run install_azurite)"; return 1; }
    # BLOBIO_AZURITE_EXTENT_MB: in-memory blob data cap (scripts/bench-peers raises it).
    _start azurite "$port" node "$(azurite_main)" --blobHost 127.0.0.1 --blobPort "$port" \
        --inMemoryPersistence --extentMemoryLimit "${BLOBIO_AZURITE_EXTENT_MB:-2048}" \
        --disableTelemetry --skipApiVersionCheck --silent || return 1
    export BLOBIO_TEST_AZURITE_ENDPOINT="http://127.0.0.1:$port/$AZURITE_ACCOUNT"
    export BLOBIO_TEST_AZURITE_ACCOUNT="$AZURITE_ACCOUNT"
    export BLOBIO_TEST_AZURITE_KEY="$AZURITE_KEY"
}

# make_test_ca DIR: a throwaway CA (DIR/ca.pem) and a server certificate it
# signed for 127.0.0.1 and localhost (DIR/server.pem, DIR/server.key).
make_test_ca() {
    local dir=$1
    mkdir -p "$dir" || return 1
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
        'keyUsage=critical,digitalSignature,keyEncipherment' \
        'extendedKeyUsage=serverAuth' \
        'subjectAltName=IP:127.0.0.1,DNS:localhost' > "$dir/server.ext"
    if ! { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=blobio test CA" \
            -addext 'basicConstraints=critical,CA:TRUE' \
            -addext 'keyUsage=critical,keyCertSign,cRLSign' \
        && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" \
        && openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
            -CAcreateserial -out "$dir/server.pem" -days 2 -extfile "$dir/server.ext"; } \
            >"$dir/openssl.log" 2>&1; then
        _die "openssl could not make the test certificates (log: $dir/openssl.log)"; return 1
    fi
}

# A second Azurite over HTTPS (certificate from make_test_ca) with
# `--oauth basic`, for TLS and bearer-token (managed identity) tests. Unlike
# the first one it checks x-ms-version, so blobio's pinned version is proven
# to be one Azurite accepts (the Python SDK, newer, only talks to the first).
start_azurite_https() {
    local port tls; port=$(free_port) || return 1
    [[ -f "$(azurite_main)" ]] || { _die "azurite not installed (run install_azurite)"; return 1; }
    [[ -n $BLOBIO_RUN_DIR ]] || servers_init || return 1
    tls="$BLOBIO_RUN_DIR/tls"
    make_test_ca "$tls" || return 1
    _start azurite-https "$port" node "$(azurite_main)" --blobHost 127.0.0.1 --blobPort "$port" \
        --inMemoryPersistence --extentMemoryLimit 1024 --disableTelemetry \
        --silent --oauth basic \
        --cert "$tls/server.pem" --key "$tls/server.key" || return 1
    export BLOBIO_TEST_AZURITE_HTTPS_ENDPOINT="https://127.0.0.1:$port/$AZURITE_ACCOUNT"
    export BLOBIO_TEST_CA_BUNDLE="$tls/ca.pem"
}

start_s3s() {
    local port data; port=$(free_port) || return 1
    [[ -x "$(s3s_bin)" ]] || { _die "s3s-fs not installed (run install_s3s)"; return 1; }
    [[ -n $BLOBIO_RUN_DIR ]] || servers_init || return 1
    data="$BLOBIO_RUN_DIR/s3s-data"; mkdir -p "$data"
    _start s3s-fs "$port" "$(s3s_bin)" --host 127.0.0.1 --port "$port" \
        --access-key "$S3S_ACCESS_KEY" --secret-key "$S3S_SECRET_KEY" "$data" || return 1
    export BLOBIO_TEST_S3S_ENDPOINT="http://127.0.0.1:$port"
    export BLOBIO_TEST_S3S_ACCESS_KEY="$S3S_ACCESS_KEY"
    export BLOBIO_TEST_S3S_SECRET_KEY="$S3S_SECRET_KEY"
    export BLOBIO_TEST_S3S_DATA_DIR="$data"
}

# A second s3s-fs that accepts only the keys moto's instance metadata hands
# out (test-key / test-secret-key): a store whose credentials came from IMDS
# (or any identity endpoint handing out those keys) proves end to end that
# it signed with them.
start_s3s_imds() {
    local port data; port=$(free_port) || return 1
    [[ -x "$(s3s_bin)" ]] || { _die "s3s-fs not installed (run install_s3s)"; return 1; }
    [[ -n $BLOBIO_RUN_DIR ]] || servers_init || return 1
    data="$BLOBIO_RUN_DIR/s3s-imds-data"; mkdir -p "$data"
    _start s3s-fs-imds "$port" "$(s3s_bin)" --host 127.0.0.1 --port "$port" \
        --access-key test-key --secret-key test-secret-key "$data" || return 1
    export BLOBIO_TEST_S3S_IMDS_ENDPOINT="http://127.0.0.1:$port"
    export BLOBIO_TEST_S3S_IMDS_DATA_DIR="$data"
}

start_moto() {
    local port venv; port=$(free_port) || return 1; venv=$(venv_dir)
    [[ -x "$venv/bin/moto_server" ]] || { _die "moto not installed (run install_venv)"; return 1; }
    _start moto "$port" "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" || return 1
    export BLOBIO_TEST_MOTO_ENDPOINT="http://127.0.0.1:$port"
    export BLOBIO_TEST_PYTHON="$venv/bin/python"
}

start_all() {
    start_azurite && start_azurite_https && start_s3s && start_s3s_imds && start_moto \
        && export BLOBIO_TEST_SERVERS=1
}

BLOBIO_ENV_VARS=(
    BLOBIO_TEST_SERVERS
    BLOBIO_TEST_S3S_ENDPOINT BLOBIO_TEST_S3S_ACCESS_KEY BLOBIO_TEST_S3S_SECRET_KEY
    BLOBIO_TEST_S3S_DATA_DIR BLOBIO_TEST_S3S_IMDS_ENDPOINT BLOBIO_TEST_S3S_IMDS_DATA_DIR
    BLOBIO_TEST_MOTO_ENDPOINT
    BLOBIO_TEST_AZURITE_ENDPOINT BLOBIO_TEST_AZURITE_ACCOUNT BLOBIO_TEST_AZURITE_KEY
    BLOBIO_TEST_AZURITE_HTTPS_ENDPOINT BLOBIO_TEST_CA_BUNDLE
    BLOBIO_TEST_PYTHON
)

print_exports() {
    local v
    for v in "${BLOBIO_ENV_VARS[@]}"; do
        [[ -n ${!v:-} ]] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    return 0
}

# Is every server we started still running? Names the first that is not.
servers_alive() {
    local i
    for i in "${!BLOBIO_SERVER_PIDS[@]}"; do
        if ! _pid_alive "${BLOBIO_SERVER_PIDS[$i]}"; then
            _log "${BLOBIO_SERVER_NAMES[$i]} (pid ${BLOBIO_SERVER_PIDS[$i]}) has exited"
            return 1
        fi
    done
}

# Stop only the PIDs recorded above (and only while they are still children
# of the shell that started them): SIGTERM, up to 5 s, then SIGKILL.
# Then remove the run folder (kept if BLOBIO_TEST_KEEP_LOGS=1).
stop_all() {
    local pid live=() i
    for pid in "${BLOBIO_SERVER_PIDS[@]}"; do
        [[ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$BLOBIO_SERVER_OWNER" ]] \
            && _pid_alive "$pid" && live+=("$pid")
    done
    if ((${#live[@]})); then
        kill -TERM "${live[@]}" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            local still=()
            for pid in "${live[@]}"; do _pid_alive "$pid" && still+=("$pid"); done
            live=("${still[@]}")
            ((${#live[@]})) || break
            sleep 0.1
        done
        if ((${#live[@]})); then
            _log "SIGKILL to ${live[*]} (still running 5 s after SIGTERM)"
            kill -KILL "${live[@]}" 2>/dev/null || true
        fi
    fi
    for pid in "${BLOBIO_SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    BLOBIO_SERVER_PIDS=(); BLOBIO_SERVER_NAMES=()
    if [[ -n $BLOBIO_RUN_DIR && -d $BLOBIO_RUN_DIR ]]; then
        if [[ ${BLOBIO_TEST_KEEP_LOGS:-0} == 1 ]]; then
            _log "kept logs and data in $BLOBIO_RUN_DIR"
        else
            rm -rf "$BLOBIO_RUN_DIR"
        fi
    fi
    BLOBIO_RUN_DIR=""
    return 0
}
