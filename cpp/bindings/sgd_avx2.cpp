// The AVX2 copy of the loops (see cpp/include/optcore/isa.hpp), chosen at run time on CPUs that have AVX2.
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
#include "optcore/run_problem.hpp"

namespace optcore::bindings {

void elementary_avx2(int f, const double* x, double* out, std::int64_t count) {
  optcore::avx2::apply_elementary<double>(static_cast<optcore::avx2::Elementary>(f), x, out, count);
}

void elementary_avx2(int f, const float* x, float* out, std::int64_t count) {
  optcore::avx2::apply_elementary<float>(static_cast<optcore::avx2::Elementary>(f), x, out, count);
}

void run_problem_avx2(const ProblemData<float>& data, const LoopSpec& spec, const RunArrays<float>& runs,
                      const Recording<float>& rec) {
  optcore::avx2::run_problem<float>(data, spec, runs, rec);
}

void run_problem_avx2(const ProblemData<double>& data, const LoopSpec& spec, const RunArrays<double>& runs,
                      const Recording<double>& rec) {
  optcore::avx2::run_problem<double>(data, spec, runs, rec);
}

}  // namespace optcore::bindings
#pragma GCC pop_options
