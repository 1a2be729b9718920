// Run-time choice between the portable and the AVX2 copy of the loops (cpp/include/optcore/isa.hpp).
#pragma once

#include "optcore/types.hpp"

namespace optcore::bindings {

#ifdef OPTCORE_HAVE_AVX2_COPY
void run_problem_avx2(const ProblemData<float>& data, const LoopSpec& spec, const RunArrays<float>& runs,
                      const Recording<float>& rec);
void run_problem_avx2(const ProblemData<double>& data, const LoopSpec& spec, const RunArrays<double>& runs,
                      const Recording<double>& rec);
#endif

/** Whether this build has the AVX2 copy and this CPU can run it. */
inline bool avx2_available() {
#ifdef OPTCORE_HAVE_AVX2_COPY
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

}  // namespace optcore::bindings
