#!/usr/bin/env bash
# Ingestion benchmark (see bench/README.md). Starts its OWN PostgreSQL (durable settings) and Redis
# on ports of their own, builds Release, runs the real app and the bench, prints the figures, and
# stops everything it started on exit. Extra arguments go to the bench (e.g. --sweep).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Never the test suite's folder or ports (/tmp/evalplatform-services, 55432, 56379).
export EVAL_SERVICES_DIR=/tmp/evalbench-services
export EVAL_PG_PORT=55433
export EVAL_REDIS_PORT=56380
export EVAL_PG_DURABLE=1
export UseSharedCompilation=false MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

APP_PIDFILE="$EVAL_SERVICES_DIR/app.pid"
RESULT="$EVAL_SERVICES_DIR/result.txt"
BENCH_DLL="$ROOT/bench/EvalPlatform.Bench/bin/Release/net10.0/EvalPlatform.Bench.dll"

cleanup() {
    local pid
    # The app, by the pid the bench wrote, and only if that pid is still a dotnet process.
    if [ -f "$APP_PIDFILE" ]; then
        pid=$(tr -dc '0-9' <"$APP_PIDFILE" 2>/dev/null || true)
        if [ -n "$pid" ] && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dotnet* ]]; then
            echo "bench: stopping the app (pid $pid)" >&2
            kill -TERM "$pid" 2>/dev/null || true
        fi
        rm -f "$APP_PIDFILE"
    fi
    EVAL_SERVICES_DIR="$EVAL_SERVICES_DIR" EVAL_PG_PORT="$EVAL_PG_PORT" EVAL_REDIS_PORT="$EVAL_REDIS_PORT" \
        "$ROOT/scripts/services.sh" stop || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: building (Release)" >&2
dotnet build "$ROOT/bench/EvalPlatform.Bench" -c Release -nologo -v q

echo "bench: starting PostgreSQL (durable) on 127.0.0.1:$EVAL_PG_PORT and Redis on 127.0.0.1:$EVAL_REDIS_PORT in $EVAL_SERVICES_DIR" >&2
"$ROOT/scripts/services.sh" restart >/dev/null
# shellcheck disable=SC1091
source "$EVAL_SERVICES_DIR/env"
POSTMASTER_PID=$(head -n 1 "$EVAL_SERVICES_DIR/pg/postmaster.pid" | tr -dc '0-9')

dotnet "$BENCH_DLL" \
    --repo "$ROOT" \
    --postgres "$EVALPLATFORM_TEST_POSTGRES" \
    --redis "$EVALPLATFORM_TEST_REDIS" \
    --postmaster-pid "$POSTMASTER_PID" \
    --pid-file "$APP_PIDFILE" \
    "$@" | tee "$RESULT"
