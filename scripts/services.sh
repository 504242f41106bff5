#!/usr/bin/env bash
# Throw-away PostgreSQL + Redis for the test suite, on their own ports, without systemd.
#
#   scripts/services.sh start    reuse both if they are up (from this folder), else start them clean; write $DIR/env
#   scripts/services.sh restart  stop what runs and start both from a clean state (the test script, the bench)
#   scripts/services.sh stop     stop both (by their pid files); idempotent
#   scripts/services.sh status   print whether each is up (exit 0 only if both are)
#
# Settings (environment):
#   EVAL_SERVICES_DIR   state folder             (default /tmp/evalplatform-services)
#   EVAL_PG_PORT        PostgreSQL port          (default 55432)
#   EVAL_REDIS_PORT     Redis port               (default 56379)
#   EVAL_SERVICES_WAIT  start-up timeout, seconds (default 20)
#   EVAL_PG_DURABLE     1: keep PostgreSQL's durable defaults (fsync etc. on), for benchmarks
#
# After `start`, `source "$DIR/env"` exports EVALPLATFORM_TEST_POSTGRES,
# EVALPLATFORM_TEST_REDIS and EVALPLATFORM_TEST_CHROMIUM.
# The PostgreSQL cluster is tuned for tests (fsync=off etc.): never use it for real data.
set -euo pipefail

DIR="${EVAL_SERVICES_DIR:-/tmp/evalplatform-services}"
PG_PORT="${EVAL_PG_PORT:-55432}"
REDIS_PORT="${EVAL_REDIS_PORT:-56379}"
WAIT_SECONDS="${EVAL_SERVICES_WAIT:-20}"

PG_USER=postgres          # OS user that owns the cluster (when we are root)
PG_PASSWORD=postgres      # password of the database superuser "postgres"
PGDATA="$DIR/pg"
PG_LOG_DIR="$DIR/pglog"
PG_LOG="$PG_LOG_DIR/postgres.log"
REDIS_PIDFILE="$DIR/redis.pid"
REDIS_LOG="$DIR/redis.log"
ENV_FILE="$DIR/env"
APT_LOG="$DIR/apt.log"

log() { echo "services: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the cluster owner (postgres when root, else ourselves), from a folder
# that user can read (PostgreSQL tools fail when they cannot resolve the current directory).
as_pg() {
    if is_root; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_owner() { if is_root; then echo "$PG_USER"; else id -un; fi; }

# True if $1 is a live (non-zombie) process whose command name starts with $2.
proc_is() {
    local pid=$1 name=$2 comm
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ "$comm" == "$name"* ]] || return 1
    # An exited child of ours lingers as a zombie until PID 1 reaps it: that is not "running".
    ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
    local missing=() p
    for p in postgresql redis-server chromium; do
        pkg_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    is_root || die "packages missing (${missing[*]}) and not root: install them first"
    log "installing with apt-get: ${missing[*]}"
    mkdir -p "$DIR"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get -q -o DPkg::Lock::Timeout=600 update &&
           apt-get -q -y -o DPkg::Lock::Timeout=600 install "${missing[@]}"; } >"$APT_LOG" 2>&1; then
        tail -n 30 "$APT_LOG" >&2 || true
        die "apt-get install ${missing[*]} failed (full log: $APT_LOG)"
    fi
}

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] ||
        die "no PostgreSQL server found under /usr/lib/postgresql/*/bin"
    echo "$d"
}

chromium_path() {
    local c
    for c in chromium chromium-browser; do
        if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
    done
    echo /usr/bin/chromium
}

pg_postmaster_pid() {
    [ -f "$PGDATA/postmaster.pid" ] || return 1
    head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null | tr -dc '0-9'
}

pg_running() {
    local pid
    pid=$(pg_postmaster_pid) || return 1
    proc_is "$pid" postgres
}

redis_pid() {
    [ -f "$REDIS_PIDFILE" ] || return 1
    tr -dc '0-9' <"$REDIS_PIDFILE" 2>/dev/null
}

redis_running() {
    local pid
    pid=$(redis_pid) || return 1
    proc_is "$pid" redis
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1; }
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

stop_pg() {
    local bindir pid i
    if ! pg_running; then
        rm -f "$PGDATA/postmaster.pid" 2>/dev/null || true   # stale, or nothing there
        return 0
    fi
    pid=$(pg_postmaster_pid)
    bindir=$(pg_bindir)
    log "stopping PostgreSQL (pid $pid)"
    if ! as_pg "$bindir/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
        as_pg "$bindir/pg_ctl" -D "$PGDATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    fi
    for ((i = 0; i < 50; i++)); do
        proc_is "$pid" postgres || return 0
        sleep 0.2
    done
    die "PostgreSQL (pid $pid) did not stop"
}

stop_redis() {
    local pid i
    if ! redis_running; then
        rm -f "$REDIS_PIDFILE"
        return 0
    fi
    pid=$(redis_pid)
    log "stopping Redis (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        if ! proc_is "$pid" redis; then rm -f "$REDIS_PIDFILE"; return 0; fi
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    proc_is "$pid" redis && die "Redis (pid $pid) did not stop"
    rm -f "$REDIS_PIDFILE"
}

cmd_stop() {
    stop_redis
    stop_pg
}

fail_start() {  # $1 = what, $2 = log file
    log "ERROR: $1 did not start; last lines of $2:"
    tail -n 30 "$2" >&2 2>/dev/null || true
    cmd_stop || true
    exit 1
}

cmd_start() {
    local bindir pwfile owner i pg_ok=0 redis_ok=0

    ensure_packages
    bindir=$(pg_bindir)
    command -v redis-server >/dev/null || die "redis-server not found"
    command -v redis-cli >/dev/null || die "redis-cli not found"
    owner=$(pg_owner)

    mkdir -p "$DIR"
    chmod 755 "$DIR"
    if is_root && ! runuser -u "$PG_USER" -- test -x "$DIR"; then
        die "$DIR is not reachable by the $PG_USER user (a parent folder is private?); set EVAL_SERVICES_DIR"
    fi

    # Always start from scratch: stop what a previous run from this folder left running.
    cmd_stop
    rm -rf "$PGDATA" "$PG_LOG_DIR" "$ENV_FILE" "$REDIS_LOG" "$REDIS_PIDFILE"
    mkdir -p "$PGDATA" "$PG_LOG_DIR"
    chmod 700 "$PGDATA"
    chown "$owner:" "$PGDATA" "$PG_LOG_DIR"

    # --- PostgreSQL -------------------------------------------------------------------
    pwfile="$PG_LOG_DIR/.pwfile"
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    chmod 600 "$pwfile"
    chown "$owner:" "$pwfile"
    if ! as_pg "$bindir/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
        -E UTF8 --no-locale >"$PG_LOG_DIR/initdb.log" 2>&1; then
        rm -f "$pwfile"
        fail_start "initdb" "$PG_LOG_DIR/initdb.log"
    fi
    rm -f "$pwfile"
    cat >>"$PGDATA/postgresql.conf" <<CONF

# --- scripts/services.sh: throw-away test cluster (NOT durable) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
max_connections = 300
CONF
    if [ "${EVAL_PG_DURABLE:-0}" != 1 ]; then
        printf '%s\n' 'fsync = off' 'synchronous_commit = off' 'full_page_writes = off' >>"$PGDATA/postgresql.conf"
    else
        # Durable (fsync, synchronous_commit, full_page_writes stay on), sized as a production
        # server would be rather than the tiny defaults: more buffers, and checkpoints far apart.
        printf '%s\n' 'shared_buffers = 512MB' 'max_wal_size = 4GB' 'checkpoint_timeout = 30min' >>"$PGDATA/postgresql.conf"
    fi
    if ! as_pg "$bindir/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t "$WAIT_SECONDS" start >/dev/null 2>&1; then
        fail_start "PostgreSQL (port $PG_PORT)" "$PG_LOG"
    fi

    # --- Redis --------------------------------------------------------------------------
    # The pid file is written only once the port is bound, so "pid file + live process"
    # proves that *our* server answers (and not some other Redis on the same port).
    if ! (cd "$DIR" && redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
        --save '' --appendonly no --dir "$DIR" \
        --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG") >/dev/null 2>&1; then
        fail_start "Redis (port $REDIS_PORT)" "$REDIS_LOG"
    fi

    # --- wait until both answer (bounded polling) --------------------------------------
    for ((i = 0; i < WAIT_SECONDS * 5; i++)); do
        [ "$pg_ok" -eq 1 ] || { pg_ready && pg_ok=1; } || true
        [ "$redis_ok" -eq 1 ] || { redis_running && redis_ready && redis_ok=1; } || true
        [ "$pg_ok" -eq 1 ] && [ "$redis_ok" -eq 1 ] && break
        if [ "$redis_ok" -eq 0 ] && [ "$i" -ge 5 ] && ! redis_running && [ -s "$REDIS_LOG" ] &&
            grep -q -E '# (Failed|Could not|Can.t)|Address already in use' "$REDIS_LOG"; then
            break   # it already died; no point waiting
        fi
        sleep 0.2
    done
    [ "$pg_ok" -eq 1 ] || fail_start "PostgreSQL (port $PG_PORT, not ready)" "$PG_LOG"
    [ "$redis_ok" -eq 1 ] || fail_start "Redis (port $REDIS_PORT)" "$REDIS_LOG"

    # --- connection settings for the tests -----------------------------------------------
    cat >"$ENV_FILE" <<ENV
export EVALPLATFORM_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Password=$PG_PASSWORD;Database=postgres"
export EVALPLATFORM_TEST_REDIS="127.0.0.1:$REDIS_PORT"
export EVALPLATFORM_TEST_CHROMIUM="$(chromium_path)"
ENV
    log "PostgreSQL $(basename "$(dirname "$bindir")") on 127.0.0.1:$PG_PORT (pid $(pg_postmaster_pid)), Redis on 127.0.0.1:$REDIS_PORT (pid $(redis_pid)); env: $ENV_FILE"
    cat "$ENV_FILE"
}

cmd_status() {
    local rc=0
    if pg_running && pg_ready; then
        echo "postgres: up (127.0.0.1:$PG_PORT, pid $(pg_postmaster_pid), data $PGDATA)"
    elif pg_running; then
        echo "postgres: running (pid $(pg_postmaster_pid)) but not accepting connections on 127.0.0.1:$PG_PORT"
        rc=1
    else
        echo "postgres: down"
        rc=1
    fi
    if redis_running && redis_ready; then
        echo "redis: up (127.0.0.1:$REDIS_PORT, pid $(redis_pid))"
    elif redis_running; then
        echo "redis: running (pid $(redis_pid)) but not answering on 127.0.0.1:$REDIS_PORT"
        rc=1
    else
        echo "redis: down"
        rc=1
    fi
    return "$rc"
}

# start: reuse services from this folder that are up and answering (so several sessions of work can share them
# without wiping each other's databases); restart: always from scratch (the test script and the bench).
cmd_ensure() {
    if [ -f "$ENV_FILE" ] && cmd_status >/dev/null 2>&1; then
        log "reusing PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT; env: $ENV_FILE"
        return 0
    fi
    cmd_start
}

case "${1:-}" in
    start) cmd_ensure ;;
    restart) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 {start|restart|stop|status}" >&2
        exit 2
        ;;
esac
