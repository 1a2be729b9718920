/** @file orders.hpp
 *  The orders in which SGD visits components: with replacement, random reshuffling, single shuffle, incremental,
 *  FlipFlop, SyncShuf and explicit user orders. Each epoch's order of each worker is a pure function of
 *  (seed, run, epoch, worker) and the order kind; docs/randomness.md is the specification.
 */
#pragma once

#include <cstdint>

#include "optcore/config.hpp"
#include "optcore/isa.hpp"
#include "optcore/philox.hpp"
#include "optcore/types.hpp"

namespace optcore {
OPTCORE_ISA_BEGIN

/** In-place Fisher-Yates: for i = n-1 down to 1, swap p[i] with p[j], j uniform in [0, i]. */
OPTCORE_HD inline void fisher_yates(WordStream& words, std::uint32_t* p, std::uint32_t n) {
  for (std::uint32_t i = n; i-- > 1;) {
    const std::uint32_t j = words.bounded(i + 1);
    const std::uint32_t tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
}

/** The uniform random permutation of [0, n) of one stream: Fisher-Yates applied to the identity. */
OPTCORE_HD inline void random_permutation(std::uint64_t seed, std::uint32_t run, std::uint32_t epoch,
                                          std::uint32_t worker, Purpose purpose, std::uint32_t* p,
                                          std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) p[i] = i;
  WordStream words(seed, run, epoch, worker, purpose);
  fisher_yates(words, p, n);
}

namespace detail {

/** The non-flipped order of worker m in epoch k, for the kinds that are permutations of a base. */
OPTCORE_HD inline void base_epoch_order(const OrderSpec& spec, OrderKind kind, std::uint64_t seed, std::uint32_t run,
                                        std::uint32_t epoch, std::uint32_t m, std::uint32_t* out) {
  const std::uint32_t n = spec.per_worker;
  if (kind == OrderKind::random_reshuffling) {
    random_permutation(seed, run, epoch, m, Purpose::permutation, out, n);
  } else if (kind == OrderKind::single_shuffle) {
    random_permutation(seed, run, 0, m, Purpose::permutation, out, n);
  } else {  // incremental
    for (std::uint32_t i = 0; i < n; ++i) out[i] = spec.base ? spec.base[i] : i;
  }
}

}  // namespace detail

/**
 * Fill the orders of all M workers for one (run, epoch): out has M rows of `row_stride` entries, the first
 * spec.count of each used. `scratch` needs room for spec.per_worker + spec.workers entries (SyncShuf only).
 * `explicit_run` is the run's position in the call (for explicit orders); `run` is its stream id.
 */
OPTCORE_HD inline void fill_epoch_orders(const OrderSpec& spec, std::uint64_t seed, std::uint32_t run,
                                         std::int64_t explicit_run, std::uint32_t epoch, std::uint32_t* out,
                                         std::int64_t row_stride, std::uint32_t* scratch) {
  const std::uint32_t n = spec.per_worker, M = spec.workers;
  switch (spec.kind) {
    case OrderKind::with_replacement:
      for (std::uint32_t m = 0; m < M; ++m) {
        WordStream words(seed, run, epoch, m, Purpose::with_replacement);
        std::uint32_t* row = out + m * row_stride;
        for (std::uint32_t i = 0; i < spec.count; ++i) row[i] = words.bounded(n);
      }
      return;
    case OrderKind::random_reshuffling:
    case OrderKind::single_shuffle:
    case OrderKind::incremental:
      for (std::uint32_t m = 0; m < M; ++m) detail::base_epoch_order(spec, spec.kind, seed, run, epoch, m, out + m * row_stride);
      return;
    case OrderKind::flipflop_rr:
    case OrderKind::flipflop_ss:
    case OrderKind::flipflop_ig: {
      const OrderKind base = spec.kind == OrderKind::flipflop_rr   ? OrderKind::random_reshuffling
                             : spec.kind == OrderKind::flipflop_ss ? OrderKind::single_shuffle
                                                                   : OrderKind::incremental;
      const bool flip = (epoch % 2u) == 1u;
      for (std::uint32_t m = 0; m < M; ++m) {
        std::uint32_t* row = out + m * row_stride;
        detail::base_epoch_order(spec, base, seed, run, flip ? epoch - 1 : epoch, m, row);
        if (flip) {
          for (std::uint32_t i = 0, j = n - 1; i < j; ++i, --j) {
            const std::uint32_t tmp = row[i];
            row[i] = row[j];
            row[j] = tmp;
          }
        }
      }
      return;
    }
    case OrderKind::explicit_order: {
      const std::int64_t r = spec.explicit_runs == 1 ? 0 : explicit_run;
      const std::int64_t k = spec.explicit_epochs == 1 ? 0 : static_cast<std::int64_t>(epoch);
      const std::int64_t* src = spec.explicit_orders + ((r * spec.explicit_epochs + k) * M) * n;
      for (std::uint32_t m = 0; m < M; ++m)
        for (std::uint32_t i = 0; i < spec.count; ++i) out[m * row_stride + i] = static_cast<std::uint32_t>(src[m * n + i]);
      return;
    }
    case OrderKind::syncshuf: {
      // sigma ~ Unif(S_N) and pi ~ Unif(S_M) drawn once per epoch; worker m starts at offset (N/M) * pi(m).
      std::uint32_t* sigma = scratch;
      std::uint32_t* pi = scratch + n;
      random_permutation(seed, run, epoch, 0, Purpose::sync_sigma, sigma, n);
      random_permutation(seed, run, epoch, 0, Purpose::sync_pi, pi, M);
      const std::uint64_t shift = n / M;
      for (std::uint32_t m = 0; m < M; ++m) {
        std::uint32_t* row = out + m * row_stride;
        for (std::uint32_t i = 0; i < spec.count; ++i) row[i] = sigma[(i + shift * pi[m]) % n];
      }
      return;
    }
  }
}

OPTCORE_ISA_END
}  // namespace optcore
