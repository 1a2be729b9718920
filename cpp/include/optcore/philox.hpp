/** @file philox.hpp
 *  Philox4x32-10 (Salmon et al., SC'11, the Random123 generator) and the word streams that optcore draws from it.
 *
 *  The full specification, which the NumPy reference in `optcore/_reference.py` reproduces bit for bit, is in
 *  docs/randomness.md. In short: a stream is named by (seed, run, epoch, worker, purpose); its words are the outputs
 *  of Philox4x32-10 with key (seed mod 2^32, seed >> 32) and counter (block, run, epoch, worker | purpose << 24) for
 *  block = 0, 1, 2, ..., four words per block, consumed in order. Nothing else enters a stream, so the indices of one
 *  run never depend on thread count, batch composition or backend.
 */
#pragma once

#include <cstdint>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"

// Vector lanes for the Philox rounds: AVX2 in the AVX2 copy of the loops (isa.hpp), SSE2 on any other x86-64.
#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__) && (defined(__x86_64__) || defined(_M_X64))
#include <immintrin.h>
#if defined(OPTCORE_TARGET_AVX2) || defined(__AVX2__)
#define OPTCORE_PHILOX_AVX2 1
#else
#define OPTCORE_PHILOX_SSE2 1
#endif
#endif

namespace optcore {
OPTCORE_ISA_BEGIN

/** What a stream is used for; part of the counter so that different uses never share words. */
enum class Purpose : std::uint32_t {
  permutation = 0,       ///< Fisher-Yates shuffles (random reshuffling, single shuffle, FlipFlop)
  with_replacement = 1,  ///< i.i.d. uniform indices
  sync_sigma = 2,        ///< SyncShuf's shared permutation of the N local components
  sync_pi = 3,           ///< SyncShuf's permutation of the M workers
};

/** One Philox4x32-10 block: out = philox(counter, key). Pure function, no state. */
OPTCORE_HD inline void philox4x32_10(const std::uint32_t ctr[4], const std::uint32_t key[2], std::uint32_t out[4]) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  std::uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  std::uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

#if defined(OPTCORE_PHILOX_AVX2)
template <class V> inline V simd_set1(std::uint32_t x) { return _mm256_set1_epi64x(static_cast<long long>(x)); }
template <class V> inline V simd_load(const std::uint64_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
template <class V> inline void simd_store(std::uint64_t* p, V v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
template <class V> inline V simd_mul(V a, V b) { return _mm256_mul_epu32(a, b); }
template <class V> inline V simd_hi(V a) { return _mm256_srli_epi64(a, 32); }
template <class V> inline V simd_xor(V a, V b) { return _mm256_xor_si256(a, b); }
template <class V> inline V simd_and(V a, V b) { return _mm256_and_si256(a, b); }
#elif defined(OPTCORE_PHILOX_SSE2)
template <class V> inline V simd_set1(std::uint32_t x) { return _mm_set1_epi64x(static_cast<long long>(x)); }
template <class V> inline V simd_load(const std::uint64_t* p) { return _mm_load_si128(reinterpret_cast<const __m128i*>(p)); }
template <class V> inline void simd_store(std::uint64_t* p, V v) { _mm_store_si128(reinterpret_cast<__m128i*>(p), v); }
template <class V> inline V simd_mul(V a, V b) { return _mm_mul_epu32(a, b); }
template <class V> inline V simd_hi(V a) { return _mm_srli_epi64(a, 32); }
template <class V> inline V simd_xor(V a, V b) { return _mm_xor_si128(a, b); }
template <class V> inline V simd_and(V a, V b) { return _mm_and_si128(a, b); }
#endif

/** The sequence of 32-bit words of one named stream, generated a buffer of blocks at a time. */
class WordStream {
 public:
  static constexpr int kBlocks = 16;  ///< blocks per refill; a buffer the compiler can vectorize over

  OPTCORE_HD WordStream(std::uint64_t seed, std::uint32_t run, std::uint32_t epoch, std::uint32_t worker,
                        Purpose purpose)
      : run_(run), epoch_(epoch), tag_(worker | (static_cast<std::uint32_t>(purpose) << 24)) {
    key_[0] = static_cast<std::uint32_t>(seed);
    key_[1] = static_cast<std::uint32_t>(seed >> 32);
  }

  /** The next word of the stream. */
  OPTCORE_HD std::uint32_t next() {
    if (pos_ == 4 * kBlocks) refill();
    return buf_[pos_++];
  }

  /** A uniform integer in [0, bound), bound >= 1: Lemire's multiply-shift with rejection, so exactly uniform. */
  OPTCORE_HD std::uint32_t bounded(std::uint32_t bound) {
    std::uint64_t m = static_cast<std::uint64_t>(next()) * bound;
    std::uint32_t low = static_cast<std::uint32_t>(m);
    if (low < bound) {
      // 2^32 mod bound words would make the low values more likely; reject them.
      const std::uint32_t threshold = static_cast<std::uint32_t>(0u - bound) % bound;
      while (low < threshold) {
        m = static_cast<std::uint64_t>(next()) * bound;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

 private:
  /** kBlocks blocks at once: the rounds of philox4x32_10() on vector lanes where the target has them. */
  OPTCORE_HD void refill() {
#if defined(OPTCORE_PHILOX_AVX2)
    refill_simd<__m256i, 4>();
#elif defined(OPTCORE_PHILOX_SSE2)
    refill_simd<__m128i, 2>();
#else
    for (int b = 0; b < kBlocks; ++b) {
      const std::uint32_t ctr[4] = {block_ + static_cast<std::uint32_t>(b), run_, epoch_, tag_};
      philox4x32_10(ctr, key_, buf_ + 4 * b);
    }
#endif
    block_ += kBlocks;
    pos_ = 0;
  }

#if defined(OPTCORE_PHILOX_AVX2) || defined(OPTCORE_PHILOX_SSE2)
  // One 32-bit Philox word per 64-bit lane (high halves zero), L lanes per vector, kBlocks / L vectors per word
  // of the counter: the 32 x 32 -> 64-bit products are exactly what _mm*_mul_epu32 computes.
  template <class V, int L>
  void refill_simd() {
    constexpr int nv = kBlocks / L;
    V c0[nv], c1[nv], c2[nv], c3[nv];
    alignas(32) std::uint64_t lanes[L];
    for (int v = 0; v < nv; ++v) {
      for (int l = 0; l < L; ++l) lanes[l] = block_ + static_cast<std::uint32_t>(v * L + l);
      c0[v] = simd_load<V>(lanes);
      c1[v] = simd_set1<V>(run_);
      c2[v] = simd_set1<V>(epoch_);
      c3[v] = simd_set1<V>(tag_);
    }
    const V m0 = simd_set1<V>(0xD2511F53u), m1 = simd_set1<V>(0xCD9E8D57u), low = simd_set1<V>(0xFFFFFFFFu);
    std::uint32_t k0 = key_[0], k1 = key_[1];
    for (int round = 0; round < 10; ++round) {
      const V key0 = simd_set1<V>(k0), key1 = simd_set1<V>(k1);
      for (int v = 0; v < nv; ++v) {
        const V p0 = simd_mul<V>(c0[v], m0), p1 = simd_mul<V>(c2[v], m1);
        const V n0 = simd_xor<V>(simd_xor<V>(simd_hi<V>(p1), c1[v]), key0);
        const V n2 = simd_xor<V>(simd_xor<V>(simd_hi<V>(p0), c3[v]), key1);
        c1[v] = simd_and<V>(p1, low);
        c3[v] = simd_and<V>(p0, low);
        c0[v] = n0;
        c2[v] = n2;
      }
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    for (int v = 0; v < nv; ++v) {
      const V* words[4] = {&c0[v], &c1[v], &c2[v], &c3[v]};
      for (int w = 0; w < 4; ++w) {
        simd_store<V>(lanes, *words[w]);
        for (int l = 0; l < L; ++l) buf_[4 * (v * L + l) + w] = static_cast<std::uint32_t>(lanes[l]);
      }
    }
  }
#endif

  std::uint32_t key_[2];
  std::uint32_t run_, epoch_, tag_;
  std::uint32_t block_ = 0;
  int pos_ = 4 * kBlocks;
  std::uint32_t buf_[4 * kBlocks];
};

OPTCORE_ISA_END
}  // namespace optcore
