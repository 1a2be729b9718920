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
#include <unordered_map>
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

/**
 * The interned Python string of a key name, made once: the dicts below are read many times per call, and a key
 * made afresh from a C string is decoded and hashed on every lookup (most of a short call's cost). Callers pass
 * string literals, so the pointer finds the key; the text is compared as well, so that a pointer that came to hold
 * another name gets that name's key. Call with the GIL held; the strings live as long as the process.
 */
inline PyObject* interned_key(const char* name) {
  struct Key {
    std::string text;
    PyObject* key;
  };
  static std::unordered_map<const char*, Key> keys;
  auto it = keys.find(name);
  if (it != keys.end() && it->second.text == name) return it->second.key;
  PyObject* key = PyUnicode_InternFromString(name);
  if (!key) throw py::error_already_set();
  keys[name] = Key{name, key};
  return key;
}

/** d[name] as a borrowed reference, or nullptr when `d` has no such key. */
inline PyObject* dict_item(const py::dict& d, const char* name) {
  PyObject* item = PyDict_GetItemWithError(d.ptr(), interned_key(name));
  if (!item && PyErr_Occurred()) throw py::error_already_set();
  return item;
}

/** Whether `d` has the entry `name` and it is not None. */
inline bool has_entry(const py::dict& d, const char* name) {
  PyObject* item = dict_item(d, name);
  return item && item != Py_None;
}

/** The array `obj` (named `name` in the messages) checked to be a C-contiguous array of T with the given shape
 *  (-1: any extent). */
template <class T>
py::array checked_array_object(py::handle obj, const char* name, const std::vector<std::int64_t>& shape,
                        bool writeable = false) {
  if (!py::isinstance<py::array>(obj)) throw py::type_error(std::string("'") + name + "' must be a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  // equivalent dtypes, not the same dtype object: an unpickled problem's arrays carry dtype objects of their own
  if (!py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), py::dtype::of<T>().ptr()))
    throw py::type_error(std::string("'") + name + "' must have dtype " + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  OPTCORE_CHECK(a.flags() & py::array::c_style, "'" << name << "' must be C-contiguous");
  OPTCORE_CHECK(!writeable || a.writeable(), "'" << name << "' must be writeable");
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || a.shape(i) == shape[i];
  OPTCORE_CHECK(ok, "'" << name << "' has shape " << shape_string(a) << ", expected ndim " << shape.size());
  return a;
}

/** The array `name` of dict `d` as a checked C-contiguous array of T with the given shape (-1: any extent). */
template <class T>
py::array checked_array(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape,
                        bool writeable = false) {
  PyObject* item = dict_item(d, name);
  OPTCORE_CHECK(item, "missing array '" << name << "'");
  return checked_array_object<T>(py::handle(item), name, shape, writeable);
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
  if (!has_entry(d, name)) return nullptr;
  return in_ptr<T>(d, name, shape);
}
template <class T>
T* optional_out(const py::dict& d, const char* name, const std::vector<std::int64_t>& shape) {
  if (!has_entry(d, name)) return nullptr;
  return out_ptr<T>(d, name, shape);
}

template <class V>
V get_scalar(const py::dict& d, const char* name) {
  PyObject* item = dict_item(d, name);
  OPTCORE_CHECK(item, "missing option '" << name << "'");
  return py::handle(item).cast<V>();
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
