#!/usr/bin/env bash
# build.sh: builds the libFuzzer harnesses (fuzz/fuzz_*.c) with Debian's clang 14 under
# -fsanitize=fuzzer,address,undefined. The library sources the readers need are compiled with
# the same sanitizers (and -fsanitize=fuzzer-no-link for coverage) into fuzz/out/.
# Usage: bash fuzz/build.sh   (installs clang-14 and libclang-rt-14-dev with apt-get if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${AC_FUZZ_CC:-clang-14}
if ! command -v "$CC" >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "== installing clang-14 and libclang-rt-14-dev"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq clang-14 libclang-rt-14-dev
fi

OUT=fuzz/out
mkdir -p "$OUT/obj"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -O1 -g -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -Isrc $SAN"
LIBS="-lzip -lpng -ljpeg -lcjson -lm"

# The reader modules and what they depend on (no BLAS/OpenMP code).
SRCS="src/core/common.c src/core/tensor.c
      src/io/pickle.c src/io/pickle_objects.c src/io/torch_load.c src/io/safetensors.c
      src/io/tensor_map.c src/io/atomic_file.c src/io/read_all.c
      src/image/image.c src/image/png.c src/image/jpeg.c src/data/meta.c"
OBJS=""
for s in $SRCS; do
  o="$OUT/obj/$(basename "${s%.c}").o"
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$0" -nt "$o" ] || \
     [ -n "$(find src -name '*.h' -newer "$o" -print -quit)" ]; then
    echo "  CC $s"
    $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$s" -o "$o"
  fi
  OBJS="$OBJS $o"
done

for h in fuzz/fuzz_*.c; do
  name=$(basename "${h%.c}")
  echo "  LD $name"
  $CC $CFLAGS -fsanitize=fuzzer "$h" $OBJS $LIBS -o "$OUT/$name"
done
echo "== harnesses in $OUT/: $(cd "$OUT" && ls fuzz_* | tr '\n' ' ')"
