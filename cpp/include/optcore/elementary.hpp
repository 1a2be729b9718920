/** @file elementary.hpp
 *  exp and log1p written out (range reduction and a polynomial with a fixed order of operations), so that every
 *  compiled copy of the loops (portable, AVX2, AVX-512), the scalar and the vector forms, and a NumPy reference
 *  doing the same operations (tests/elementary_reference.py) give the same bits; libm's exp and log1p differ
 *  between libraries and have no vector form the compiler can use. Accuracy: within 2 ulp of the true value over
 *  the whole range (tests/test_elementary.py), including overflow to inf, gradual underflow and 0.
 *
 *  No operation may be fused (the build uses -ffp-contract=off) and nothing relies on the rounding mode other than
 *  round-to-nearest.
 *
 *  exp(x): k = nearest integer to x / ln 2 (added to and subtracted from 1.5 2^52, 1.5 2^23 for float), r = x - k ln2
 *  in two parts (Cody-Waite: k ln2_hi is exact), exp(r) by the Taylor polynomial of degree 13 (7 for float) in
 *  Horner form, times 2^floor(k/2) then 2^(k - floor(k/2)): the first product is exact, the second rounds once,
 *  also into the subnormal range and to inf. x is first clamped to [-746, 710] ([-104, 89] for float), where the
 *  results are already 0 and inf.
 *
 *  log1p(u), u >= 0 (what the margin losses need, u = e^{-|z|} <= 1, and beyond): w = 1 + u rounded, the rounding
 *  error c = (u - (w - 1)) / w restored, log(w) = e ln2 + log(f) with f = w / 2^e in [sqrt(1/2), sqrt(2)) and
 *  log(f) by fdlibm's polynomial in s = (f - 1) / (f + 1) (e_log.c, Sun Microsystems 1993).
 */
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#ifdef __cplusplus
#include <type_traits>
#endif

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/kernels.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

namespace detail {

template <class T>
struct ExpConstants;
template <>
struct ExpConstants<double> {
  using Bits = std::int64_t;
  static constexpr double lo = -746.0, hi = 710.0;  // exp(lo) rounds to 0, exp(hi) overflows
  static constexpr double log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // 21 trailing zero bits: k ln2_hi is exact
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double shifter = 6755399441055744.0;  // 1.5 2^52: x + shifter - shifter rounds x to an integer
  static constexpr int mantissa_bits = 52, bias = 1023, degree = 13;
};
template <>
struct ExpConstants<float> {
  using Bits = std::int32_t;
  static constexpr float lo = -104.0f, hi = 89.0f;
  // hexadecimal: a decimal float literal read through double (as NumPy reads it) could round differently
  static constexpr float log2e = 0x1.715476p+0f;
  static constexpr float ln2_hi = 0x1.62e4p-1f;  // 0x3f317200: 9 trailing zero bits, |k| < 2^8
  static constexpr float ln2_lo = 0x1.7f7d1cp-20f;  // ln 2 - ln2_hi
  static constexpr float shifter = 12582912.0f;  // 1.5 2^23
  static constexpr int mantissa_bits = 23, bias = 127, degree = 7;
};

/** 1/j! for the Taylor polynomial, j = 0..13. */
OPTCORE_HD constexpr double inverse_factorial(int j) {
  return j == 0 ? 1.0 : inverse_factorial(j - 1) / j;  // exact up to 1/13!'s own rounding: a constant, fixed bits
}

/**
 * p r^(J+1) + 1/J! r^J + ... + 1/0!, in Horner form: p * r + 1/J!, then down to j = 0. Each coefficient is a
 * constant expression, so the compiler folds it (correctly rounded, as the run-time division would round it)
 * instead of recomputing 1/j! on every call.
 */
template <class T, class V, int J>
OPTCORE_HD inline V horner_exp(V p, V r) {
  if constexpr (J < 0) {
    return p;
  } else {
    constexpr T c = static_cast<T>(inverse_factorial(J));
    return horner_exp<T, V, J - 1>(p * r + c, r);
  }
}

/**
 * The shared middle of exp for a scalar or a vector V of T: x (already clamped) -> (p, k) with exp(x) = p 2^k.
 * k is returned as the T holding the integer, t as x / ln2 + shifter (whose low bits hold k, for the vector form).
 */
template <class T, class V>
OPTCORE_HD inline V exp_reduced(V x, V& k, V& t) {
  using C = ExpConstants<T>;
  t = x * C::log2e + C::shifter;
  k = t - C::shifter;
  const V r = (x - k * C::ln2_hi) - k * C::ln2_lo;
  constexpr T top = static_cast<T>(inverse_factorial(C::degree));
  return horner_exp<T, V, C::degree - 1>(V{} + top, r);
}

/** 2^k for an integer k in the normal range, exactly. */
template <class T>
OPTCORE_HD inline T pow2(int k) {
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
  return std::ldexp(T(1), k);
#else
  using C = ExpConstants<T>;
  const typename C::Bits bits = static_cast<typename C::Bits>(k + C::bias) << C::mantissa_bits;
  T out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
#endif
}

/** log(f) - (f - 1) + ..., fdlibm's kernel: log(1 + f1) for f1 = f - 1, f in [sqrt(1/2), sqrt(2)), plus e ln 2. */
template <class V>
OPTCORE_HD inline V log_kernel(V f1, V e) {
  constexpr double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01, Lg3 = 2.857142874366239149e-01,
                   Lg4 = 2.222219843214978396e-01, Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                   Lg7 = 1.479819860511658591e-01;
  constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  const V s = f1 / (2.0 + f1);
  const V z = s * s;
  const V w = z * z;
  const V t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
  const V t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
  const V R = t2 + t1;
  const V hfsq = 0.5 * f1 * f1;
  return e * ln2_hi - ((hfsq - (s * (hfsq + R) + e * ln2_lo)) - f1);
}

}  // namespace detail

/** e^x with the same bits in every build (see the file comment); NaN for NaN. */
template <class T>
OPTCORE_HD inline T exp_exact(T x) {
  using C = detail::ExpConstants<T>;
  if (!(x == x)) return x + x;
  const T xc = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
  T k, t;
  const T p = detail::exp_reduced<T, T>(xc, k, t);
  const int ki = static_cast<int>(k);
  const int k1 = ki >> 1;  // floor(k / 2): arithmetic shift
  return (p * detail::pow2<T>(k1)) * detail::pow2<T>(ki - k1);
}

/** log(1 + u) for u >= 0 (double), the same bits in every build; +inf for +inf, NaN for NaN or u < 0. */
OPTCORE_HD inline double log1p_exact(double u) {
  if (!(u >= 0.0)) return u == u ? (u - u) / (u - u) : u + u;  // u < 0: 0 / 0 (numeric_limits: not under NVRTC)
  if (u > 1.7976931348623157e308) return u;  // +inf
  const double w = 1.0 + u;
  const double c = (u - (w - 1.0)) / w;  // the rounding error of 1 + u, to first order (0 once u >= 2^53)
  int e2;
  double f = 2.0 * std::frexp(w, &e2);  // exact: w = f 2^(e2 - 1), f in [1, 2)
  int e = e2 - 1;
  if (f > 1.4142135623730951) {
    f = 0.5 * f;
    e += 1;
  }
  return detail::log_kernel<double>(f - 1.0, static_cast<double>(e)) + c;
}

/** The logistic loss log(1 + e^{-z}), written so that neither branch overflows: log1p(e^{-|z|}) + max(-z, 0). */
OPTCORE_HD inline double softplus_neg_exact(double z) {
  const double l = log1p_exact(exp_exact(z >= 0.0 ? -z : z));
  return z >= 0.0 ? l : -z + l;
}

#ifdef OPTCORE_VECTOR_EXTENSIONS
/** exp_exact() on each element of a vector of T, the same bits element by element. */
template <class T, class V>
inline V exp_exact_vec(V x) {
  using C = detail::ExpConstants<T>;
  using B = typename C::Bits;
  constexpr int W = sizeof(V) / sizeof(T);
  typedef B BV __attribute__((vector_size(W * sizeof(B))));
  const V xc = x < C::lo ? V{} + C::lo : (x > C::hi ? V{} + C::hi : x);  // NaN stays NaN, fixed below
  V k, t;
  const V p = detail::exp_reduced<T, V>(xc, k, t);
  BV tb, sb;
  std::memcpy(&tb, &t, sizeof(tb));
  const T shifter = C::shifter;
  B shifter_bits;
  std::memcpy(&shifter_bits, &shifter, sizeof(B));
  sb = BV{} + shifter_bits;
  const BV ki = tb - sb;  // the integer k, from the low bits of t
  const BV k1 = ki >> 1;  // floor(k / 2)
  const BV s1b = (k1 + C::bias) << C::mantissa_bits, s2b = (ki - k1 + C::bias) << C::mantissa_bits;
  V s1, s2;
  std::memcpy(&s1, &s1b, sizeof(s1));
  std::memcpy(&s2, &s2b, sizeof(s2));
  const V out = (p * s1) * s2;
  return x == x ? out : x + x;
}

/** log1p_exact() on each element of a vector of doubles (u >= 0; other inputs as the scalar form). */
template <class V>
inline V log1p_exact_vec(V u) {
  constexpr int W = sizeof(V) / sizeof(double);
  typedef std::int64_t BV __attribute__((vector_size(W * sizeof(std::int64_t))));
  const V w = 1.0 + u;
  const V c = (u - (w - 1.0)) / w;
  BV wb;
  std::memcpy(&wb, &w, sizeof(wb));
  // w >= 1 and finite here: exponent field e2 + 1022 for w = f 2^(e2 - 1), f in [1, 2)
  const BV expo = (wb >> 52) & 0x7ff;
  const BV fb = (wb & 0x000fffffffffffffLL) | (BV{} + 0x3ff0000000000000LL);
  V f, e;
  std::memcpy(&f, &fb, sizeof(f));
  e = __builtin_convertvector(expo - 1023, V);
  const auto big = f > 1.4142135623730951;
  f = big ? 0.5 * f : f;
  e = big ? e + 1.0 : e;
  const V out = detail::log_kernel<V>(f - 1.0, e) + c;
  // the scalar form's special cases: NaN or u < 0 -> NaN, +inf -> +inf
  const V nan = V{} + __builtin_nan("");
  return u >= 0.0 ? (u > 1.7976931348623157e308 ? u : out) : (u == u ? nan : u + u);
}

/** softplus_neg_exact() on each element of a vector of doubles. */
template <class V>
inline V softplus_neg_exact_vec(V z) {
  const V l = log1p_exact_vec(exp_exact_vec<double>(z >= 0.0 ? -z : z));
  return z >= 0.0 ? l : -z + l;
}

/** Which function apply_elementary() computes. */
enum class Elementary : int { exp = 0, log1p = 1, softplus_neg = 2 };

/**
 * out[j] = f(x[j]) for j < count: whole vectors through the vector form, the rest through the scalar form (the
 * same bits either way). The tests' window on these functions in each compiled copy (optcore._core).
 */
template <class T>
void apply_elementary(Elementary f, const T* x, T* out, std::int64_t count) {
  using V = typename detail::NativeVec<T>::type;
  constexpr int W = detail::NativeVec<T>::width;
  std::int64_t j = 0;
  for (; j + W <= count; j += W) {
    const V v = detail::load_vec(x + j);
    V r;
    if constexpr (std::is_same_v<T, double>) {
      r = f == Elementary::exp ? exp_exact_vec<T>(v) : f == Elementary::log1p ? log1p_exact_vec(v)
                                                                                : softplus_neg_exact_vec(v);
    } else {
      r = exp_exact_vec<T>(v);
    }
    detail::store_vec(out + j, r);
  }
  for (; j < count; ++j) {
    if constexpr (std::is_same_v<T, double>) {
      out[j] = f == Elementary::exp ? exp_exact(x[j]) : f == Elementary::log1p ? log1p_exact(x[j])
                                                                                : softplus_neg_exact(x[j]);
    } else {
      out[j] = exp_exact(x[j]);
    }
  }
}
#endif

OPTCORE_ISA_END
}  // namespace optcore
