// The AVX-512 copy of the loops and the network evaluations (see cpp/include/optcore/isa.hpp), chosen at run time
// on CPUs that have AVX-512 (avx512f, dq, vl, bw: Skylake-X and later, Zen 4 and later). It gives the bits of the
// portable copy: vectors of 8 doubles hold the dot products' 8 partial sums in one register with the same
// combination tree, and nothing is fused: AVX-512F has FMA instructions, so CMakeLists.txt compiles every copy with
// -ffp-contract=off.
//
// Every standard header the core uses is included before the target pragma: functions declared after it are
// compiled for AVX-512, and a standard-library function compiled for AVX-512 could be picked by the linker for the
// portable copy too. The core's own code sits in the inline namespace optcore::avx512, so it shares no symbol.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <immintrin.h>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "optcore/config.hpp"
#include "optcore/stop.hpp"  // no instruction-set code: shared by both copies
#include "optcore/types.hpp"
#include "sgd_dispatch.hpp"

#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512dq,avx512vl,avx512bw")  // no "fma"; -ffp-contract=off: nothing fused
#define OPTCORE_ISA_NAME avx512
#define OPTCORE_TARGET_AVX2 1  // the pragma does not define __AVX2__ in C++; the headers read these instead
#define OPTCORE_TARGET_AVX512 1
#include "isa_copy.inc"  // run_problem_avx512, mlp_eval_avx512, elementary_avx512
#pragma GCC pop_options
