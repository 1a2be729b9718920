// The index streams of the orders on the GPU: one thread per (run, epoch), computing exactly what the CPU core
// computes, from the same header (cpp/include/optcore/orders.hpp: Philox4x32-10, Lemire's bounded integers,
// Fisher-Yates). Compiled at run time by NVRTC (optcore/cuda/_compile.py); nvcc compiles it too (tests).
#include "optcore/orders.hpp"

extern "C" __global__ void optcore_epoch_orders(
    int kind, std::uint32_t workers, std::uint32_t per_worker, std::uint32_t count,
    const std::uint32_t* base,              // (N,) or nullptr: identity
    const std::int64_t* explicit_orders,    // (Re, Ke, M, N) or nullptr
    std::int64_t explicit_runs, std::int64_t explicit_epochs,
    const std::uint64_t* seeds, const std::uint32_t* run_ids,  // (R,)
    std::int64_t runs, std::int64_t epochs, std::int64_t first_epoch,  // epochs first_epoch .. first_epoch + epochs - 1
    std::int64_t first_item, std::int64_t items,  // this launch does items (run, epoch) pairs from first_item on
    std::uint32_t* work,                    // (items, M * N + N + M): one thread's order rows and scratch
    std::uint32_t* out) {                   // (R, K, M, count)
  const std::int64_t t = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= items) return;
  const std::int64_t item = first_item + t;
  const std::int64_t r = item / epochs, k = item % epochs;
  if (r >= runs) return;
  optcore::OrderSpec spec;
  spec.kind = static_cast<optcore::OrderKind>(kind);
  spec.workers = workers;
  spec.per_worker = per_worker;
  spec.count = count;
  spec.base = base;
  spec.explicit_orders = explicit_orders;
  spec.explicit_runs = explicit_runs;
  spec.explicit_epochs = explicit_epochs;
  const std::int64_t N = per_worker, M = workers;
  std::uint32_t* rows = work + t * (M * N + N + M);
  // Rows of N entries: the permutation kinds write all N entries of a row even when fewer (count) are used.
  optcore::fill_epoch_orders(spec, seeds[r], run_ids[r], r, static_cast<std::uint32_t>(first_epoch + k), rows, N,
                             rows + M * N);
  std::uint32_t* dst = out + ((r * epochs + k) * M) * count;
  for (std::int64_t m = 0; m < M; ++m)
    for (std::int64_t i = 0; i < count; ++i) dst[m * count + i] = rows[m * N + i];
}
