#!/usr/bin/env bash
# build.sh: installs missing dependencies and builds allclear into build/ (Release).
# Extra arguments go to cmake's configure step (e.g. -DAC_WERROR=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
