/** @file config.hpp
 *  Portability macros and the one error-check macro of the C++ core.
 *
 *  The core is plain C++17: no Python, no pybind11. Functions that must compute the same thing on the CPU and on a
 *  GPU (the RNG, order generation, component gradients) are marked OPTCORE_HD, which is `__host__ __device__` under
 *  nvcc/NVRTC and empty under an ordinary C++ compiler.
 */
#pragma once

// NVRTC (run-time CUDA compiles) has no C++ standard library: the error machinery below is host-only.
#if !defined(__CUDACC_RTC__)
#include <sstream>
#include <stdexcept>
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define OPTCORE_HD __host__ __device__
#else
#define OPTCORE_HD
#endif

#if !defined(__CUDACC_RTC__)
namespace optcore {

/** Throws std::invalid_argument (ValueError in Python) with the failed condition, a message and the source line. */
[[noreturn]] inline void fail_check(const char* cond, const std::string& msg, const char* file, int line) {
  std::ostringstream os;
  os << msg << " [check '" << cond << "' failed at " << file << ":" << line << "]";
  throw std::invalid_argument(os.str());
}

}  // namespace optcore

/** OPTCORE_CHECK(cond, msg-stream): `msg` may use `<<`, e.g. OPTCORE_CHECK(n > 0, "n must be > 0, got " << n). */
#define OPTCORE_CHECK(cond, msg)                                        \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::ostringstream optcore_check_os_;                             \
      optcore_check_os_ << msg;                                         \
      ::optcore::fail_check(#cond, optcore_check_os_.str(), __FILE__, __LINE__); \
    }                                                                   \
  } while (0)
#endif  // !defined(__CUDACC_RTC__)
