// Ctrl-C during a long call into the core: the GIL stays released for the numeric loop, and the calling thread
// (the one Python delivers signals to) takes it back every optcore::kPollInterval to run the signal handlers.
#pragma once

#include <utility>

#include "optcore/stop.hpp"
#include "pybind11.hpp"

namespace optcore::bindings {

/**
 * Runs work(StopToken*) with the GIL released. While it runs, the Python signal handlers run every
 * kPollInterval (PyErr_CheckSignals); when one raises (KeyboardInterrupt for SIGINT), the workers stop at their
 * next checkpoint, every thread is joined, and that exception is raised here. Call with the GIL held, after every
 * Python object the work needs has been turned into plain pointers.
 */
template <class Work>
void run_interruptible(Work&& work) {
  StopToken stop(
      [](void*) {
        py::gil_scoped_acquire acquire;
        return PyErr_CheckSignals() != 0;  // the handler's exception stays set on this thread
      },
      nullptr);
  bool interrupted = false;
  {
    py::gil_scoped_release release;
    try {
      std::forward<Work>(work)(&stop);
    } catch (const Interrupted&) {
      interrupted = true;
    }
  }
  if (interrupted) {
    if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }
}

}  // namespace optcore::bindings
