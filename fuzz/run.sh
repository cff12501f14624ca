#!/usr/bin/env bash
# run.sh: runs the fuzz harnesses (built by fuzz/build.sh) one after another, each for a given
# number of seconds, starting from the committed seeds (fuzz/corpus/<name>) plus what earlier
# runs found (fuzz/found/<name>, not committed). Crashes, leaks, timeouts and out-of-memory
# inputs are written to fuzz/out/artifacts/; the log of each run is fuzz/out/logs/<name>.log.
# Usage: bash fuzz/run.sh [seconds (default 20)] [harness names (default: all)]
#   e.g. bash fuzz/run.sh 600 pickle torch_load
# Exits non-zero when a harness found a problem (its log and artifact are named).
set -uo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-20}
shift || true
ALL="torch_load torch_zip pickle safetensors meta image"
NAMES=${*:-$ALL}
[ -x fuzz/out/fuzz_pickle ] || bash fuzz/build.sh || exit 1

dict_for() {
  case $1 in
    torch_load|torch_zip|pickle) echo "-dict=fuzz/dict/pickle.dict" ;;
    safetensors|meta) echo "-dict=fuzz/dict/json.dict" ;;
    *) echo "" ;;
  esac
}
maxlen_for() {
  case $1 in
    torch_load) echo 16384 ;;
    torch_zip|pickle|image) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

mkdir -p fuzz/out/logs fuzz/out/artifacts
status=0
for name in $NAMES; do
  bin=fuzz/out/fuzz_$name
  [ -x "$bin" ] || { echo "no harness $bin"; status=1; continue; }
  work=${AC_FUZZ_FOUND:-fuzz/found}/$name
  mkdir -p "$work"
  log=fuzz/out/logs/$name.log
  # -timeout: one input running longer than 10 s is a hang; -rss_limit_mb: 2 GB is excessive.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$bin" "$work" "fuzz/corpus/$name" $(dict_for "$name") -max_len="$(maxlen_for "$name")" \
    -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/out/artifacts/$name-" >"$log" 2>&1
  rc=$?
  final=$(grep -E '^#[0-9]+[[:space:]].*cov:' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
  rss=$(grep -E '^stat::peak_rss_mb' "$log" | awk '{print $2}')
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  corp=$(ls "$work" | wc -l)
  if [ $rc -ne 0 ]; then
    echo "FAIL $name (exit $rc): $(grep -E 'ERROR|SUMMARY' "$log" | head -2 | tr '\n' ' ') — see $log"
    status=1
  else
    echo "ok   $name: ${execs:-?} execs, $final, corpus $corp files, peak rss ${rss:-?} MB"
  fi
done
exit $status
