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

namespace optcore {

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
  OPTCORE_HD void refill() {
    for (int b = 0; b < kBlocks; ++b) {
      const std::uint32_t ctr[4] = {block_ + static_cast<std::uint32_t>(b), run_, epoch_, tag_};
      philox4x32_10(ctr, key_, buf_ + 4 * b);
    }
    block_ += kBlocks;
    pos_ = 0;
  }

  std::uint32_t key_[2];
  std::uint32_t run_, epoch_, tag_;
  std::uint32_t block_ = 0;
  int pos_ = 4 * kBlocks;
  std::uint32_t buf_[4 * kBlocks];
};

}  // namespace optcore
