// Philox4x32-10 and the word streams, exposed for the tests that check the NumPy reference against them.
#include "optcore/philox.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

void bind_random(py::module_& m) {
  m.def(
      "philox4x32_10",
      [](std::array<std::uint32_t, 4> ctr, std::array<std::uint32_t, 2> key) {
        std::array<std::uint32_t, 4> out{};
        philox4x32_10(ctr.data(), key.data(), out.data());
        return out;
      },
      py::arg("counter"), py::arg("key"), "One Philox4x32-10 block.");
  m.def(
      "stream_words",
      [](std::uint64_t seed, std::uint32_t run, std::uint32_t epoch, std::uint32_t worker, std::uint32_t purpose,
         std::int64_t count) {
        OPTCORE_CHECK(count >= 0, "count must be >= 0");
        OPTCORE_CHECK(worker < (1u << 24) && purpose < 256u, "worker < 2^24 and purpose < 256 required");
        py::array_t<std::uint32_t> out(count);
        auto* p = out.mutable_data();
        WordStream words(seed, run, epoch, worker, static_cast<Purpose>(purpose));
        for (std::int64_t i = 0; i < count; ++i) p[i] = words.next();
        return out;
      },
      py::arg("seed"), py::arg("run"), py::arg("epoch"), py::arg("worker"), py::arg("purpose"), py::arg("count"),
      "The first `count` words of a stream.");
  m.def(
      "stream_bounded",
      [](std::uint64_t seed, std::uint32_t run, std::uint32_t epoch, std::uint32_t worker, std::uint32_t purpose,
         std::uint32_t bound, std::int64_t count) {
        OPTCORE_CHECK(count >= 0 && bound >= 1, "count >= 0 and bound >= 1 required");
        OPTCORE_CHECK(worker < (1u << 24) && purpose < 256u, "worker < 2^24 and purpose < 256 required");
        py::array_t<std::uint32_t> out(count);
        auto* p = out.mutable_data();
        WordStream words(seed, run, epoch, worker, static_cast<Purpose>(purpose));
        for (std::int64_t i = 0; i < count; ++i) p[i] = words.bounded(bound);
        return out;
      },
      py::arg("seed"), py::arg("run"), py::arg("epoch"), py::arg("worker"), py::arg("purpose"), py::arg("bound"),
      py::arg("count"), "`count` uniform integers in [0, bound) from one stream.");
}

}  // namespace optcore::bindings
