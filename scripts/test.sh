#!/usr/bin/env bash
# test.sh: the whole test suite. Builds with -Werror and runs every test, then builds again
# with AddressSanitizer + UndefinedBehaviorSanitizer and runs every test once more, then
# runs every fuzzing harness briefly (fuzz/smoke.sh: seeds, then ~25 s of fuzzing each).
# Exits non-zero when anything fails. AC_SKIP_SANITIZE=1 skips the sanitizer pass and
# AC_SKIP_FUZZ=1 the fuzzing smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

echo "== build (Release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs")

if [ "${AC_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAC_WERROR=ON -DAC_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests under sanitizers"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs")
fi

if [ "${AC_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzzing smoke (libFuzzer)"
  bash fuzz/smoke.sh
fi
