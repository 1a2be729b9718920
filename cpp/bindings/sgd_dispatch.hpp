// Run-time choice between the compiled copies of the loops: portable, AVX2, AVX-512 (cpp/include/optcore/isa.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "optcore/config.hpp"
#include "optcore/types.hpp"

namespace optcore::bindings {

#ifdef OPTCORE_HAVE_AVX2_COPY
void elementary_avx2(int f, const double* x, double* out, std::int64_t count);
void elementary_avx2(int f, const float* x, float* out, std::int64_t count);
void run_problem_avx2(const ProblemData<float>& data, const LoopSpec& spec, const RunArrays<float>& runs,
                      const Recording<float>& rec);
void run_problem_avx2(const ProblemData<double>& data, const LoopSpec& spec, const RunArrays<double>& runs,
                      const Recording<double>& rec);
#endif
#ifdef OPTCORE_HAVE_AVX512_COPY
void elementary_avx512(int f, const double* x, double* out, std::int64_t count);
void elementary_avx512(int f, const float* x, float* out, std::int64_t count);
void run_problem_avx512(const ProblemData<float>& data, const LoopSpec& spec, const RunArrays<float>& runs,
                        const Recording<float>& rec);
void run_problem_avx512(const ProblemData<double>& data, const LoopSpec& spec, const RunArrays<double>& runs,
                        const Recording<double>& rec);
#endif

/** The compiled copies of the loops, from the most portable to the widest. */
enum class Isa { portable, avx2, avx512 };

inline const char* isa_name(Isa isa) {
  return isa == Isa::avx512 ? "avx512" : isa == Isa::avx2 ? "avx2" : "portable";
}

/** Whether this build has the AVX2 copy and this CPU can run it. */
inline bool avx2_available() {
#ifdef OPTCORE_HAVE_AVX2_COPY
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

/** The AVX-512 subsets the AVX-512 copy is compiled for (Skylake-X and later, Zen 4 and later). */
constexpr const char* kAvx512Features = "avx512f, avx512dq, avx512vl, avx512bw";

/** Whether this build has the AVX-512 copy and this CPU (and its OS, which must save the zmm state) can run it. */
inline bool avx512_available() {
#ifdef OPTCORE_HAVE_AVX512_COPY
  // libgcc's cpu model checks XGETBV: the features read as absent where the OS does not save the zmm registers
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

/** Whether this build has the copy at all (whatever the CPU). */
inline bool isa_built(Isa isa) {
  switch (isa) {
    case Isa::portable:
      return true;
    case Isa::avx2:
#ifdef OPTCORE_HAVE_AVX2_COPY
      return true;
#else
      return false;
#endif
    case Isa::avx512:
#ifdef OPTCORE_HAVE_AVX512_COPY
      return true;
#else
      return false;
#endif
  }
  return false;
}

/** The widest copy this build has and this CPU runs: what "auto" picks. */
inline Isa best_isa() {
  if (avx512_available()) return Isa::avx512;
  if (avx2_available()) return Isa::avx2;
  return Isa::portable;
}

/**
 * The copy to run for a request: "auto" (the widest available), or one named copy (tests comparing copies bit for
 * bit, benchmarks), which must be built and supported by this CPU -- a copy is never silently replaced by another.
 */
inline Isa choose_isa(const std::string& requested) {
  if (requested == "auto") return best_isa();
  if (requested == "portable") return Isa::portable;
  if (requested == "avx2") {
    OPTCORE_CHECK(isa_built(Isa::avx2), "isa='avx2' requested (OPTCORE_ISA) but this build has no AVX2 copy "
                                        "(built for a CPU other than x86-64, or a compiler other than GCC/Clang)");
    OPTCORE_CHECK(avx2_available(), "isa='avx2' requested (OPTCORE_ISA) but this CPU lacks avx2");
    return Isa::avx2;
  }
  if (requested == "avx512") {
    OPTCORE_CHECK(isa_built(Isa::avx512), "isa='avx512' requested (OPTCORE_ISA) but this build has no AVX-512 copy "
                                          "(built for a CPU other than x86-64, or a compiler other than GCC/Clang)");
    OPTCORE_CHECK(avx512_available(), "isa='avx512' requested (OPTCORE_ISA) but this CPU lacks avx512f (the copy "
                                          "needs " << kAvx512Features << ", saved by the OS)");
    return Isa::avx512;
  }
  OPTCORE_CHECK(false, "isa (OPTCORE_ISA) must be one of auto, portable, avx2, avx512, got '" << requested << "'");
  return Isa::portable;
}

}  // namespace optcore::bindings
