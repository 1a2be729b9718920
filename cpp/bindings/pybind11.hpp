/** @file pybind11.hpp
 *  The only place the bindings include pybind11 from, with the array helpers every binding file uses.
 *
 *  The helpers read arrays out of the dicts the Python layer builds. The Python layer converts and validates user
 *  input first; these checks are the last line of defence, so that a wrong array can never reach the C++ loops:
 *  a wrong dtype raises TypeError and a wrong shape or layout ValueError, each naming the array.
 */
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "optcore/config.hpp"

namespace py = pybind11;

namespace optcore::bindings {

inline std::string shape_string(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  os << (a.ndim() == 1 ? ",)" : ")");
  return os.str();
}

/** The array `name` of dict `d` as a checked C-contiguous array of T with the given shape (-1: any extent). */
template <class T>
py::array checked_array(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape,
                        bool writeable = false) {
  OPTCORE_CHECK(d.contains(name), "missing array '" << name << "'");
  py::object obj = d[name];
  if (!py::isinstance<py::array>(obj)) throw py::type_error(std::string("'") + name + "' must be a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string("'") + name + "' must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  OPTCORE_CHECK(a.flags() & py::array::c_style, "'" << name << "' must be C-contiguous");
  OPTCORE_CHECK(!writeable || a.writeable(), "'" << name << "' must be writeable");
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || a.shape(i) == shape[i];
  OPTCORE_CHECK(ok, "'" << name << "' has shape " << shape_string(a) << ", expected ndim " << shape.size());
  return a;
}

template <class T>
const T* in_ptr(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape) {
  return static_cast<const T*>(checked_array<T>(d, name, shape).data());
}

template <class T>
T* out_ptr(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape) {
  return static_cast<T*>(checked_array<T>(d, name, shape, true).mutable_data());
}

/** Like in_ptr/out_ptr, but the entry may be absent or None (then nullptr). */
template <class T>
const T* optional_in(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape) {
  if (!d.contains(name) || d[name].is_none()) return nullptr;
  return in_ptr<T>(d, name, shape);
}
template <class T>
T* optional_out(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape) {
  if (!d.contains(name) || d[name].is_none()) return nullptr;
  return out_ptr<T>(d, name, shape);
}

template <class V>
V get_scalar(const py::dict& d, const char* name) {
  OPTCORE_CHECK(d.contains(name), "missing option '" << name << "'");
  return d[name].cast<V>();
}

void bind_random(py::module_& m);
void bind_orders(py::module_& m);
void bind_sgd(py::module_& m);
void bind_nn(py::module_& m);
void bind_linear_tensor(py::module_& m);
void bind_blas(py::module_& m);
void bind_games(py::module_& m);
void bind_quant(py::module_& m);
void bind_bures_wasserstein(py::module_& m);

}  // namespace optcore::bindings
