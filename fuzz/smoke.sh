#!/usr/bin/env bash
# smoke.sh: the fuzzing check for CI. Builds the harnesses (fuzz/build.sh), replays every
# committed seed (fuzz/corpus/<name>/) through its harness, then fuzzes each harness for a
# short while (AC_FUZZ_SMOKE_SECONDS, default 25) from a fresh temporary corpus, running up
# to $(nproc) harnesses at a time. Exits non-zero when any input crashes, leaks, hangs (> 10 s)
# or needs more than 2 GB; the failing input is kept in fuzz/out/artifacts/.
# Usage: bash fuzz/smoke.sh [harness names (default: all)]
set -uo pipefail
cd "$(dirname "$0")/.."

SECS=${AC_FUZZ_SMOKE_SECONDS:-25}
ALL="torch_load torch_zip pickle safetensors meta image"
NAMES=${*:-$ALL}
bash fuzz/build.sh >/dev/null || { echo "fuzz/build.sh failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p fuzz/out/logs fuzz/out/artifacts
work=$(mktemp -d /tmp/ac_fuzz_smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT

status=0
# 1. Every seed, once.
for name in $NAMES; do
  if ! fuzz/out/fuzz_"$name" -runs=0 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="fuzz/out/artifacts/$name-" fuzz/corpus/"$name" >fuzz/out/logs/"$name"-seeds.log 2>&1; then
    echo "FAIL $name: a seed input fails (fuzz/out/logs/$name-seeds.log)"
    status=1
  fi
done

# 2. A short fuzzing run per harness, $(nproc) at a time (fuzz/run.sh does the bookkeeping).
jobs=$(nproc)
running=0
for name in $NAMES; do
  (AC_FUZZ_FOUND="$work" bash fuzz/run.sh "$SECS" "$name") &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
[ $status -eq 0 ] && echo "fuzz smoke: all harnesses clean" || echo "fuzz smoke: FAILED"
exit $status
