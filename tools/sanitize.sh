#!/usr/bin/env bash
# Runs the test suite under the sanitizers:
#   tools/sanitize.sh address   the whole suite under AddressSanitizer (swift test --sanitize=address)
#   tools/sanitize.sh thread    the engine and server suites under ThreadSanitizer (--sanitize=thread)
#   tools/sanitize.sh           both, address first
# Each builds release code with the sanitizer in its own folder (.build-asan, .build-tsan: about 20
# minutes each from scratch on 2 cores) and exits non-zero when a test fails or a sanitizer reports.
# Extra arguments after the mode go to `swift test` (for example --filter ServerTests).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
[ $# -gt 0 ] && shift
# halt_on_error: the first report fails the run, with its stack; the test names the input.
# detect_leaks=0: LeakSanitizer's check at exit cannot follow Swift references that carry tag bits
# (enum payloads, bridged objects), so the runtime's and lazy globals' objects still alive at exit show
# as a few hundred bytes "leaked" by every `lantern` process the CLI tests start; memory growth is
# checked where it matters instead (benchmarks/soak.py, the fuzzers' -rss_limit_mb).
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

run_address() {
    echo "== AddressSanitizer: the whole suite"
    swift test -c release -Xswiftc -enable-testing --sanitize=address --scratch-path .build-asan "$@"
}
run_thread() {
    echo "== ThreadSanitizer: the engine and server suites"
    swift test -c release -Xswiftc -enable-testing --sanitize=thread --scratch-path .build-tsan \
        --filter 'LanternGenerationTests|LanternServerTests|LanternTests.Engine|LanternTests.Lantern' "$@"
}
case "$mode" in
    address) run_address "$@" ;;
    thread) run_thread "$@" ;;
    all) run_address "$@"; run_thread "$@" ;;
    *) echo "usage: tools/sanitize.sh [address|thread|all] [swift test options]" >&2; exit 2 ;;
esac
