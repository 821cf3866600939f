#!/bin/sh
# Build @jazzer.js/fuzzer@2.1.0's native addon against Debian's stock libFuzzer.
# needs: apt-get install g++ libclang-rt-14-dev   (Node headers: /usr/include/node)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PKG=${1:-node_modules/@jazzer.js/fuzzer}
ROOT=$(cd "$PKG/../../.." && pwd)
LIBFUZZER=$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)
NODE_INC=${NODE_INC:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node}
NAPI_INC=$(cd "$ROOT" && node -p "require('path').resolve(require('node-addon-api').include_dir)")
cd "$PKG"
mkdir -p build/Release
cp "$HERE/compat.cpp" shared/zz_compat.cpp
sed 's/fuzzer::FuzzerDriver(/CompatFuzzerDriver(/; s/^void StartLibFuzzer/int CompatFuzzerDriver(int *, char ***, fuzzer::UserCallback);\nvoid StartLibFuzzer/' utils.cpp > build/utils_compat.cpp
SRCS=$(ls *.cpp shared/*.cpp | grep -v '^utils.cpp$')
g++ -O2 -std=c++17 -fPIC -shared -DNAPI_VERSION=4 -DNAPI_CPP_EXCEPTIONS \
  -I. -I"$HERE/include" -I"$NODE_INC" -I"$NAPI_INC" \
  $SRCS build/utils_compat.cpp \
  -Wl,--whole-archive "$LIBFUZZER" -Wl,--no-whole-archive -lpthread \
  -o build/Release/jazzerjs.node
echo "built $PKG/build/Release/jazzerjs.node"
