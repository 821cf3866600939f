// Minimal stand-in for compiler-rt/lib/fuzzer/FuzzerDefs.h (only what jazzer.js needs)
#pragma once
#include <cstddef>
#include <cstdint>
namespace fuzzer {
typedef int (*UserCallback)(const uint8_t *Data, size_t Size);
int FuzzerDriver(int *argc, char ***argv, UserCallback Callback);
}
