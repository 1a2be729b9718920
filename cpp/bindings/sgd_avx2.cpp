// The AVX2 copy of the loops and the network evaluations (see cpp/include/optcore/isa.hpp), chosen at run time on CPUs that have AVX2.
//
// Every standard header the core uses is included before the target pragma: functions declared after it are
// compiled for AVX2, and a standard-library function compiled for AVX2 could be picked by the linker for the
// portable copy too. The core's own code sits in the inline namespace optcore::avx2, so it shares no symbol.
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
#pragma GCC target("avx2")  // no FMA: the AVX2 copy must give the same bits as the portable one
#define OPTCORE_ISA_NAME avx2
#define OPTCORE_TARGET_AVX2 1  // the pragma does not define __AVX2__ in C++; the headers read this instead
#include "isa_copy.inc"  // run_problem_avx2, mlp_eval_avx2, elementary_avx2
#pragma GCC pop_options
