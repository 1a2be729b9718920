// Run-time choice between the instruction-set copies of the loops (cpp/include/optcore/isa.hpp).
//
// Every copy exposes the same entry points, declared once below (OPTCORE_DECLARE_ISA_ENTRY_POINTS) and defined
// once in isa_copy.inc. A new copy (say avx512) is: a .cpp like sgd_avx2.cpp (its target pragma, OPTCORE_ISA_NAME,
// then #include "isa_copy.inc"), a line in OPTCORE_ISA_COPIES (best first), and its entry in CMakeLists.txt.
// The callers (bind_sgd.cpp, bind_nn.cpp) expand OPTCORE_ISA_COPIES, so every entry point, the training loop and
// the network evaluations alike, goes to the same copy.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>

#include "optcore/config.hpp"
#include "optcore/types.hpp"

// One X(name, cpu_check) per compiled copy beyond the portable one, best first: `auto` takes the first whose
// cpu_check holds. Each copy is compiled only where CMake says so (OPTCORE_HAVE_<NAME>_COPY).
#ifdef OPTCORE_HAVE_AVX2_COPY
#define OPTCORE_AVX2_COPY(X) X(avx2, __builtin_cpu_supports("avx2"))
#else
#define OPTCORE_AVX2_COPY(X)
#endif
// The AVX-512 subsets the copy is compiled for (Skylake-X and later, Zen 4 and later). libgcc's CPU model reads
// them as absent where the OS does not save the zmm registers (XGETBV).
#define OPTCORE_AVX512_CPU                                                                                          \
  (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && \
   __builtin_cpu_supports("avx512bw"))
#ifdef OPTCORE_HAVE_AVX512_COPY
#define OPTCORE_AVX512_COPY(X) X(avx512, OPTCORE_AVX512_CPU)
#else
#define OPTCORE_AVX512_COPY(X)
#endif
#define OPTCORE_ISA_COPIES(X) OPTCORE_AVX512_COPY(X) OPTCORE_AVX2_COPY(X)

// The entry points of the copy `isa`, for one element type T.
#define OPTCORE_DECLARE_ISA_ENTRY_POINTS_T(isa, T)                                                                  \
  void run_problem_##isa(const ProblemData<T>& data, const LoopSpec& spec, const RunArrays<T>& runs,             \
                         const Recording<T>& rec);                                                                \
  void mlp_eval_##isa(const ProblemData<T>& data, MlpEvalKind what, const MlpEvalArgs<T>& args);                \
  void elementary_##isa(int function, const T* x, T* out, std::int64_t count);
#define OPTCORE_DECLARE_ISA_ENTRY_POINTS(isa, cpu_check) \
  OPTCORE_DECLARE_ISA_ENTRY_POINTS_T(isa, float)         \
  OPTCORE_DECLARE_ISA_ENTRY_POINTS_T(isa, double)

namespace optcore::bindings {

OPTCORE_ISA_COPIES(OPTCORE_DECLARE_ISA_ENTRY_POINTS)

/** Whether this build has the AVX2 copy and this CPU can run it. */
inline bool avx2_available() {
#ifdef OPTCORE_HAVE_AVX2_COPY
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

/** Whether this build has the AVX-512 copy and this CPU (and its OS) can run it. */
inline bool avx512_available() {
#ifdef OPTCORE_HAVE_AVX512_COPY
  return OPTCORE_AVX512_CPU;
#else
  return false;
#endif
}

/** The names of the copies this build has ("portable" first), and of those this CPU can run. */
inline std::string isa_copies_built() {
  std::string names = "portable";
#define OPTCORE_NAME_COPY(isa, cpu_check) names += "," #isa;
  OPTCORE_ISA_COPIES(OPTCORE_NAME_COPY)
#undef OPTCORE_NAME_COPY
  return names;
}

inline std::string isa_copies_usable() {
  std::string names = "portable";
#define OPTCORE_NAME_COPY(isa, cpu_check) \
  if (cpu_check) names += "," #isa;
  OPTCORE_ISA_COPIES(OPTCORE_NAME_COPY)
#undef OPTCORE_NAME_COPY
  return names;
}

/**
 * The copy to run for `requested`: "auto" is the best copy this build has and this CPU runs; any other name must
 * be such a copy (tests and benchmarks force one), else std::invalid_argument naming the ones there are.
 */
inline std::string resolve_isa(const std::string& requested) {
  if (requested == "portable") return requested;
#define OPTCORE_PICK_COPY(isa, cpu_check) \
  if ((requested == "auto" || requested == #isa) && (cpu_check)) return #isa;
  OPTCORE_ISA_COPIES(OPTCORE_PICK_COPY)
#undef OPTCORE_PICK_COPY
  if (requested == "auto") return "portable";
  // a copy is never silently replaced by another: say why this one cannot run
  const std::string built = "," + isa_copies_built() + ",";
  OPTCORE_CHECK(built.find("," + requested + ",") == std::string::npos,
                "isa='" << requested << "' requested (OPTCORE_ISA) but this CPU lacks "
                        << (requested == "avx512" ? "avx512f (the copy needs avx512f, dq, vl and bw, saved by the OS)"
                                                  : requested.c_str())
                        << "; this CPU runs " << isa_copies_usable());
  OPTCORE_CHECK(false, "isa='" << requested << "' is not a copy of the loops that this build has (" << isa_copies_built()
                               << "; this CPU runs " << isa_copies_usable()
                               << "; or auto); the copies are portable, avx2 and avx512 on x86-64");
  return "portable";
}

}  // namespace optcore::bindings
