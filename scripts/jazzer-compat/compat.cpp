// Glue between jazzer.js 2.1.0's native addon (written for CodeIntelligence's libFuzzer fork) and
// stock LLVM 14 libFuzzer (Debian libclang-rt-14-dev); see README.md. Copied into the package by
// build.sh. Invariant: only symbols the addon references and stock libFuzzer lacks are defined here.
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <array>
#include <fuzzer/FuzzerDefs.h>
#include "shared/libfuzzer.h"

extern "C" {
void __sanitizer_cov_trace_const_cmp8(uint64_t, uint64_t);
void __sanitizer_cov_trace_pc_indir(uintptr_t);
void __jazzer_set_death_callback(void (*callback)());
// Stock libFuzzer registers its crash-dump callback through this weak hook.
void __sanitizer_set_death_callback(void (*callback)()) {
  __jazzer_set_death_callback(callback);
}
}

// Fork API: *_with_pc variants. Emulate a caller PC by dispatching to one of
// kSites distinct call sites (stock libFuzzer uses __builtin_return_address).
namespace {
constexpr size_t kSites = 512;
template <size_t N>
__attribute__((noinline)) void Cmp8Site(uint64_t a, uint64_t b) {
  __sanitizer_cov_trace_const_cmp8(a, b);
  asm volatile("" ::: "memory"); // prevent tail call
}
template <size_t N> __attribute__((noinline)) void IndirSite(uintptr_t c) {
  __sanitizer_cov_trace_pc_indir(c);
  asm volatile("" ::: "memory");
}
template <size_t... I>
constexpr auto MakeCmp(std::index_sequence<I...>) {
  return std::array<void (*)(uint64_t, uint64_t), sizeof...(I)>{&Cmp8Site<I>...};
}
template <size_t... I>
constexpr auto MakeIndir(std::index_sequence<I...>) {
  return std::array<void (*)(uintptr_t), sizeof...(I)>{&IndirSite<I>...};
}
} // namespace
#include <array>
static const auto kCmp = MakeCmp(std::make_index_sequence<kSites>());
static const auto kIndir = MakeIndir(std::make_index_sequence<kSites>());

extern "C" void __sanitizer_cov_trace_const_cmp8_with_pc(uintptr_t pc,
                                                         uint64_t a,
                                                         uint64_t b) {
  kCmp[pc % kSites](a, b);
}
extern "C" void __sanitizer_cov_trace_pc_indir_with_pc(void *pc,
                                                      uintptr_t callee) {
  kIndir[reinterpret_cast<uintptr_t>(pc) % kSites](callee);
}

// Fork API: a callback returning RETURN_EXIT (-2) makes FuzzerDriver return.
// Stock libFuzzer ignores it, so unwind back to StartLibFuzzer via longjmp.
static std::jmp_buf gExitBuf;
static fuzzer::UserCallback gUserCallback;
static int ExitAwareCallback(const uint8_t *d, size_t s) {
  int r = gUserCallback(d, s);
  if (r == libfuzzer::RETURN_EXIT)
    std::longjmp(gExitBuf, 1);
  return r;
}
namespace fuzzer {
extern bool RunningUserCallback; // defined in libFuzzer (FuzzerLoop.cpp)
}
int CompatFuzzerDriver(int *argc, char ***argv, fuzzer::UserCallback cb) {
  gUserCallback = cb;
  if (setjmp(gExitBuf) == 0)
    return fuzzer::FuzzerDriver(argc, argv, ExitAwareCallback);
  // Unwound out of the user callback: tell libFuzzer's atexit handler that
  // the process exit is intentional (else: "fuzz target exited").
  fuzzer::RunningUserCallback = false;
  return 0;
}
