#!/usr/bin/env bash
# Trace explorer benchmark (see bench/README.md): seeds 1,000,000 traces on a PostgreSQL of its own
# (durable settings, its own folder and ports) and prints the server time of the list's first page
# and of one trace view. Extra arguments go to the bench (e.g. --traces 200000).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export EVAL_SERVICES_DIR=/tmp/evalexplorer-services
export EVAL_PG_PORT=55434
export EVAL_REDIS_PORT=56381
export EVAL_PG_DURABLE=1
export UseSharedCompilation=false MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

trap '"$ROOT/scripts/services.sh" stop >/dev/null 2>&1 || true' EXIT
dotnet build "$ROOT/bench/EvalPlatform.ExplorerBench" -c Release -nologo -v q
"$ROOT/scripts/services.sh" restart >/dev/null
# shellcheck disable=SC1091
source "$EVAL_SERVICES_DIR/env"
dotnet "$ROOT/bench/EvalPlatform.ExplorerBench/bin/Release/net10.0/EvalPlatform.ExplorerBench.dll" --postgres "$EVALPLATFORM_TEST_POSTGRES" "$@"
