#!/usr/bin/env bash
# The single command that runs every test of the repository:
#   scripts/test.sh [extra dotnet test args, e.g. --filter FullyQualifiedName~Foo]
#
# 1. starts throw-away PostgreSQL + Redis (scripts/services.sh) and stops them on exit;
# 2. dotnet build EvalPlatform.sln -c Release;
# 3. npm ci in EvalPlatform.Tests/Clients (the official JS clients the real-client tests drive; a failure
#    counts 1 failure and those tests then fail too, they never skip);
# 4. dotnet test (Release, --no-build), extra arguments passed through;
# 5. the Python SDK tests (sdks/python/tests) and the JS SDK tests (sdks/js), if present.
# The last line printed is always "N passed, N failed"; exit code 0 only if nothing failed.
# Logs: $EVAL_SERVICES_DIR/logs (default /tmp/evalplatform-services/logs).
#
# Sourcing this file only defines the functions (count_dotnet, count_unittest, count_node),
# so the summary parsing can be checked on a saved log without running anything.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${EVAL_SERVICES_DIR:-/tmp/evalplatform-services}"
LOG_DIR="$SERVICES_DIR/logs"

# Removes ANSI colour codes and carriage returns.
_clean_log() { sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r//g' "$1"; }

# count_dotnet LOG RC -> prints "passed failed skipped" for a `dotnet test` log.
# Understands the per-assembly summaries of the VSTest console logger in both verbosities:
#   minimal/quiet: "Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, ..."
#   normal+:       "Total tests: 12" / "     Passed: 12" / "     Failed: 1" / "    Skipped: 2"
# and, as a last resort, the terminal logger's "Test summary: total: N, failed: N, succeeded: N, skipped: N".
# A non-zero exit code with no counted failure (crashed test host, ...) counts 1 failure;
# so does a run that counted no test at all.
count_dotnet() {
    local log=$1 rc=${2:-0} passed failed skipped total
    read -r passed failed skipped total < <(_clean_log "$log" | awk '
        function num(s) { gsub(/[^0-9]/, "", s); return s + 0 }
        match($0, /Failed: *[0-9]+, *Passed: *[0-9]+, *Skipped: *[0-9]+, *Total: *[0-9]+/) {
            n = split(substr($0, RSTART, RLENGTH), part, ",")
            mf += num(part[1]); mp += num(part[2]); ms += num(part[3]); mt += num(part[4]); m++
            next
        }
        match($0, /Test summary: *total: *[0-9]+, *failed: *[0-9]+, *succeeded: *[0-9]+, *skipped: *[0-9]+/) {
            n = split(substr($0, RSTART, RLENGTH), part, ",")
            tt += num(part[1]); tf += num(part[2]); tp += num(part[3]); ts += num(part[4]); t++
            next
        }
        /Total tests: *[0-9]+[ \t]*$/   { sub(/.*Total tests:/, ""); nt += num($0); nblk++; next }
        /^[ \t]*Passed: *[0-9]+[ \t]*$/  { np += num($0); next }
        /^[ \t]*Failed: *[0-9]+[ \t]*$/  { nf += num($0); next }
        /^[ \t]*Skipped: *[0-9]+[ \t]*$/ { ns += num($0); next }
        END {
            if (m > 0)                      print mp + 0, mf + 0, ms + 0, mt + 0
            else if (nblk > 0 || np + nf > 0) print np + 0, nf + 0, ns + 0, (nt > np + nf + ns ? nt : np + nf + ns)
            else if (t > 0)                 print tp + 0, tf + 0, ts + 0, tt + 0
            else                            print 0, 0, 0, 0
        }')
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "dotnet test exited with code $rc but no failed test was counted: counting 1 failure" >&2
        failed=1
    fi
    if [ "$total" -eq 0 ]; then
        echo "dotnet test ran no tests: counting 1 failure" >&2
        [ "$failed" -eq 0 ] && failed=1
    fi
    echo "$passed $failed $skipped"
}

# _unittest_field "FAILED (failures=1, errors=2)" errors -> 2 ("expected failures" is not "failures")
_unittest_field() {
    local v
    v=$(grep -oE "(\(|, )$2=[0-9]+" <<<"$1" | grep -oE '[0-9]+$')
    echo "${v:-0}"
}

# count_unittest LOG RC -> "passed failed skipped" for `python3 -m unittest -v` output.
count_unittest() {
    local log=$1 rc=${2:-0}
    local ran status failures errors unexpected skipped passed failed
    ran=$(_clean_log "$log" | grep -oE '^Ran [0-9]+ tests?' | tail -n 1 | grep -oE '[0-9]+')
    status=$(_clean_log "$log" | grep -E '^(OK|FAILED)( \(.*\))?[[:space:]]*$' | tail -n 1)
    ran=${ran:-0}
    failures=$(_unittest_field "$status" failures)
    errors=$(_unittest_field "$status" errors)
    unexpected=$(_unittest_field "$status" 'unexpected successes')
    skipped=$(_unittest_field "$status" skipped)
    failed=$((failures + errors + unexpected))
    passed=$((ran - failed - skipped))
    [ "$passed" -lt 0 ] && passed=0
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "python unittest exited with code $rc but no failed test was counted: counting 1 failure" >&2
        failed=1
    fi
    if [ "$ran" -eq 0 ] && [ "$failed" -eq 0 ]; then
        echo "python unittest ran no tests: counting 1 failure" >&2
        failed=1
    fi
    echo "$passed $failed $skipped"
}

# count_node LOG RC -> "passed failed skipped" for `node --test` output (TAP or spec reporter).
count_node() {
    local log=$1 rc=${2:-0} passed failed skipped
    read -r passed failed skipped < <(_clean_log "$log" | awk '
        /^(#|ℹ) pass [0-9]+[ \t]*$/      { p = $3 + 0 }
        /^(#|ℹ) fail [0-9]+[ \t]*$/      { f = $3 + 0 }
        /^(#|ℹ) cancelled [0-9]+[ \t]*$/ { c = $3 + 0 }
        /^(#|ℹ) skipped [0-9]+[ \t]*$/   { s = $3 + 0 }
        /^(#|ℹ) todo [0-9]+[ \t]*$/      { d = $3 + 0 }
        END { print p + 0, f + c, s + d }')
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "node --test exited with code $rc but no failed test was counted: counting 1 failure" >&2
        failed=1
    fi
    if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
        echo "node --test ran no tests: counting 1 failure" >&2
        failed=1
    fi
    echo "$passed $failed $skipped"
}

_services() { bash "$ROOT/scripts/services.sh" "$@"; }

# finish PASSED FAILED: stop services, print wall time and the closing line, exit.
finish() {
    local passed=$1 failed=$2
    _services stop >>"$LOG_DIR/services-stop.log" 2>&1 || true
    echo "Total wall time: $(($(date +%s) - START_TIME)) s"
    echo "$passed passed, $failed failed"
    if [ "$failed" -eq 0 ]; then exit 0; else exit 1; fi
}

main() {
    START_TIME=$(date +%s)
    cd "$ROOT" || { echo "cannot cd to $ROOT"; echo "0 passed, 1 failed"; exit 1; }
    mkdir -p "$LOG_DIR"

    export UseSharedCompilation=false MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0
    export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

    trap '_services stop >/dev/null 2>&1 || true' EXIT
    trap 'exit 130' INT TERM

    local src rc
    echo "== services"
    if ! _services restart; then
        echo "FAILED: could not start PostgreSQL/Redis (scripts/services.sh start failed; see its messages above)"
        finish 0 1
    fi
    # shellcheck disable=SC1091
    if ! source "$SERVICES_DIR/env"; then
        echo "FAILED: $SERVICES_DIR/env missing after scripts/services.sh start"
        finish 0 1
    fi

    if ! command -v dotnet >/dev/null 2>&1; then
        echo "FAILED: dotnet not found on PATH"
        finish 0 1
    fi

    echo "== dotnet build"
    dotnet build EvalPlatform.sln -c Release 2>&1 | tee "$LOG_DIR/dotnet-build.log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        echo "FAILED: dotnet build exited with code $rc (log: $LOG_DIR/dotnet-build.log)"
        finish 0 1
    fi

    local total_passed=0 total_failed=0 p f s
    local breakdown=""
    echo "== real clients: npm ci in EvalPlatform.Tests/Clients"
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        echo "FAILED: node/npm not found on PATH: the real-client tests (EvalPlatform.Tests/Integration/Clients) need Node.js 20+ with npm"
        total_failed=$((total_failed + 1)); breakdown="npm ci: failed; "
    elif ! (cd EvalPlatform.Tests/Clients && npm ci --no-audit --no-fund) >"$LOG_DIR/npm-ci.log" 2>&1; then
        tail -n 20 "$LOG_DIR/npm-ci.log"
        echo "FAILED: npm ci in EvalPlatform.Tests/Clients failed (log: $LOG_DIR/npm-ci.log); the real-client tests will fail too"
        total_failed=$((total_failed + 1)); breakdown="npm ci: failed; "
    else
        echo "node $(node --version), npm ci done"
    fi

    echo "== dotnet test"
    # A hung test is a failure with a dump, not a CI run that never ends.
    # Normal verbosity into the log (a class fixture's cleanup failure is printed with its exception only there);
    # the console gets it without the line of each passed test.
    dotnet test EvalPlatform.sln -c Release --no-build --logger "console;verbosity=normal" \
        --blame-hang-timeout 5m "$@" 2>&1 |
        tee "$LOG_DIR/dotnet-test.log" | grep --line-buffered -vE '^[[:space:]]+Passed [^:!]'
    rc=${PIPESTATUS[0]}
    read -r p f s < <(count_dotnet "$LOG_DIR/dotnet-test.log" "$rc")
    breakdown+="dotnet: $p passed, $f failed, $s skipped"
    total_passed=$((total_passed + p)); total_failed=$((total_failed + f))

    if [ -d sdks/python/tests ]; then
        echo "== python sdk tests"
        PYTHONPATH="$ROOT/sdks/python${PYTHONPATH:+:$PYTHONPATH}" \
            python3 -m unittest discover -s sdks/python/tests -v 2>&1 | tee "$LOG_DIR/python-test.log"
        rc=${PIPESTATUS[0]}
        read -r p f s < <(count_unittest "$LOG_DIR/python-test.log" "$rc")
        breakdown+="; python: $p passed, $f failed, $s skipped"
        total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
    fi

    if [ -f sdks/js/package.json ]; then
        echo "== js sdk tests"
        (cd sdks/js && node --test --test-reporter=tap) 2>&1 | tee "$LOG_DIR/js-test.log"
        rc=${PIPESTATUS[0]}
        read -r p f s < <(count_node "$LOG_DIR/js-test.log" "$rc")
        breakdown+="; js: $p passed, $f failed, $s skipped"
        total_passed=$((total_passed + p)); total_failed=$((total_failed + f))
    fi

    # CI shows only the tail of this output: name each failed test there, with its message, and each class
    # fixture whose cleanup failed (that fails the run though every test passed).
    if grep -qE '^  Failed [A-Z][A-Za-z0-9_]*\.|Cleanup Failure' "$LOG_DIR/dotnet-test.log" 2>/dev/null; then
        echo "== failed dotnet tests and cleanups"
        grep -E -A 12 '^  Failed [A-Z][A-Za-z0-9_]*\.|Cleanup Failure' "$LOG_DIR/dotnet-test.log" | cut -c1-400 | head -n 160
    fi
    echo "== summary ($breakdown; logs in $LOG_DIR)"
    finish "$total_passed" "$total_failed"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
