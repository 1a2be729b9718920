// Order generation on its own, so users can inspect and replay the exact indices any run of the engine visits.
#include "interrupt.hpp"
#include "optcore/orders.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

/** Reads an OrderSpec out of the dict the Python layer builds (optcore/_spec.py). */
OrderSpec order_spec_from(const py::dict& spec, const py::dict& arrays) {
  OrderSpec o;
  const int kind = get_scalar<int>(spec, "order");
  OPTCORE_CHECK(kind >= 0 && kind < kNumOrderKinds, "unknown order code " << kind);
  o.kind = static_cast<OrderKind>(kind);
  o.workers = get_scalar<std::uint32_t>(spec, "workers");
  o.per_worker = get_scalar<std::uint32_t>(spec, "per_worker");
  o.count = get_scalar<std::uint32_t>(spec, "count");
  o.base = optional_in<std::uint32_t>(arrays, "base_order", {o.per_worker});
  if (o.kind == OrderKind::explicit_order) {
    py::array e = checked_array<std::int64_t>(arrays, "explicit_orders", {-1, -1, o.workers, o.per_worker});
    o.explicit_orders = static_cast<const std::int64_t*>(e.data());
    o.explicit_runs = e.shape(0);
    o.explicit_epochs = e.shape(1);
  }
  return o;
}

void bind_orders(py::module_& m) {
  m.def(
      "epoch_orders",
      [](py::dict spec, py::dict arrays, std::int64_t epochs, std::int64_t first_epoch) {
        const OrderSpec o = order_spec_from(spec, arrays);
        const std::int64_t R = checked_array<std::uint64_t>(arrays, "seeds", {-1}).shape(0);
        const auto* seeds = in_ptr<std::uint64_t>(arrays, "seeds", {R});
        const auto* run_ids = in_ptr<std::uint32_t>(arrays, "run_ids", {R});
        OPTCORE_CHECK(epochs >= 1, "epochs must be >= 1, got " << epochs);
        OPTCORE_CHECK(first_epoch >= 0 && first_epoch + epochs <= (std::int64_t{1} << 32),
                      "epochs first_epoch .. first_epoch + epochs - 1 must lie in [0, 2^32), got first_epoch = "
                          << first_epoch << ", epochs = " << epochs);
        // explicit orders are indexed by the epoch (their Ke axis); windows of them are sliced in Python
        OPTCORE_CHECK(o.kind != OrderKind::explicit_order || first_epoch == 0,
                      "explicit orders take first_epoch = 0 (slice their epoch axis instead)");
        OPTCORE_CHECK(o.kind != OrderKind::explicit_order || o.explicit_runs == 1 || o.explicit_runs == R,
                      "explicit orders need 1 or R = " << R << " runs");
        OPTCORE_CHECK(o.kind != OrderKind::explicit_order || o.explicit_epochs == 1 || o.explicit_epochs == epochs,
                      "explicit orders need 1 or K = " << epochs << " epochs");
        py::array_t<std::uint32_t> out({R, epochs, static_cast<std::int64_t>(o.workers), static_cast<std::int64_t>(o.count)});
        auto* p = out.mutable_data();
        run_interruptible([&](StopToken* stop) {  // only plain arrays from here on
          parallel_chunks(1, 1, [&](std::int64_t, std::int64_t) {  // on this thread, whose checkpoints poll
            std::vector<std::uint32_t> row(static_cast<std::size_t>(o.workers) * o.per_worker), scratch(o.per_worker + o.workers);
            for (std::int64_t r = 0; r < R; ++r)
              for (std::int64_t k = 0; k < epochs; ++k) {
                checkpoint(stop);
                fill_epoch_orders(o, seeds[r], run_ids[r], r, static_cast<std::uint32_t>(first_epoch + k), row.data(),
                                  o.per_worker, scratch.data());
                for (std::uint32_t w = 0; w < o.workers; ++w)
                  std::copy_n(row.data() + static_cast<std::size_t>(w) * o.per_worker, o.count,
                              p + ((r * epochs + k) * o.workers + w) * o.count);
              }
          }, stop);
        });
        return out;
      },
      py::arg("spec"), py::arg("arrays"), py::arg("epochs"), py::arg("first_epoch") = 0,
      "Orders of all runs and of epochs first_epoch .. first_epoch + K - 1, shape (R, K, M, count), local indices "
      "per worker.");
}

}  // namespace optcore::bindings
