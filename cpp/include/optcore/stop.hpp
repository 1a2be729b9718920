/** @file stop.hpp
 *  Cooperative cancellation of the long loops, and the thread pool that runs them.
 *
 *  The core has no Python: a caller that wants a computation to stop early (the bindings, on Ctrl-C) hands in a
 *  StopToken with a `poll` callback, which must be called from the thread that started the work (Python runs
 *  signal handlers on its main thread only). parallel_chunks() runs the first chunk of work on that thread and the
 *  others on worker threads; `poll` runs about every kPollInterval, from the calling thread's own checkpoints while
 *  it computes and from its wait loop once it is done. When `poll` answers true, the token's flag is set, every
 *  thread leaves at its next checkpoint() by throwing Interrupted, and parallel_chunks() joins them all before it
 *  throws Interrupted itself -- no thread outlives the call. Threads reach a checkpoint at every chunk of work (a
 *  bounded number of steps, an epoch, a record, a network): a relaxed atomic load, and on the calling thread a
 *  counter that reads the clock only every `stride_` checkpoints, adapted so the clock is read about once a
 *  millisecond whatever a chunk costs. A single-threaded call starts no thread at all.
 *
 *  No code here depends on the instruction set, so the portable and the AVX2 copies of the loops share it.
 */
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace optcore {

/** Thrown by a worker that saw a stop request, and by parallel_chunks() once every worker has left. */
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("optcore: computation interrupted") {}
};

/** A stop flag shared by the workers of one call, and the caller's way of deciding when to raise it. */
class StopToken {
 public:
  /// Called from the thread that started the work; returns true when the work must stop.
  using Poll = bool (*)(void* context);

  StopToken() = default;
  StopToken(Poll poll, void* context) : poll_(poll), context_(context) {}
  StopToken(const StopToken&) = delete;
  StopToken& operator=(const StopToken&) = delete;

  bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }

  /**
   * Between chunks of work, on any thread: throws Interrupted once a stop was requested. On the thread that
   * polls (parallel_chunks() makes the calling thread it), also polls about every kPollInterval.
   */
  void checkpoint() {
    if (stop_requested()) throw Interrupted();
    if (poll_ && std::this_thread::get_id() == poller_ && ++ticks_ >= stride_) tick();
  }

  /** For the polling thread: asks `poll` (if any) and raises the flag when it says so; returns the flag. */
  bool poll() {
    last_poll_ = Clock::now();
    if (poll_ && !stop_requested() && poll_(context_)) request_stop();
    return stop_requested();
  }

  bool has_poll() const { return poll_ != nullptr; }

  /** The thread whose checkpoints poll: the one that called parallel_chunks(). */
  void set_poller(std::thread::id id) {
    poller_ = id;
    last_clock_ = last_poll_ = Clock::now();
  }

 private:
  using Clock = std::chrono::steady_clock;

  /** The clock, about once a millisecond: polls when kPollInterval has passed since the last poll. */
  void tick();

  std::atomic<bool> stop_{false};
  Poll poll_ = nullptr;
  void* context_ = nullptr;
  // the polling thread's state (other threads only read poller_, written before they start)
  std::thread::id poller_;
  std::int64_t ticks_ = 0, stride_ = 1;
  Clock::time_point last_clock_, last_poll_;
};

/** checkpoint() of an optional token. */
inline void checkpoint(StopToken* stop) {
  if (stop) stop->checkpoint();
}

/// How often a long call polls: well under the half second a person notices.
constexpr std::chrono::milliseconds kPollInterval{50};

inline void StopToken::tick() {
  const Clock::time_point now = Clock::now();
  const auto since = now - last_clock_;
  last_clock_ = now;
  ticks_ = 0;
  if (since < std::chrono::microseconds(500) && stride_ < (std::int64_t(1) << 20)) stride_ *= 2;  // cheap chunks
  if (since > std::chrono::milliseconds(2) && stride_ > 1) stride_ /= 2;  // costly ones
  if (now - last_poll_ >= kPollInterval && poll()) throw Interrupted();
}

/// The most threads one call starts (the Python layer refuses more, optcore._threads.MAX_THREADS).
constexpr int kMaxThreads = 1024;

/**
 * Calls body(first, last) on contiguous chunks of [0, total), one per thread (at most `threads`, kMaxThreads and
 * `total`), and rethrows the first worker exception once every worker has finished.
 *
 * The first chunk runs on the calling thread, which polls `stop` (see the file comment); an interrupted call
 * throws Interrupted after joining every worker. A thread that cannot be started (too many threads for the
 * memory or process limits) stops the ones already running and throws std::runtime_error naming the count: never
 * std::terminate.
 */
template <class Body>
void parallel_chunks(std::int64_t total, int threads, Body body, StopToken* stop = nullptr) {
  const int used = static_cast<int>(std::max<std::int64_t>(
      1, std::min<std::int64_t>(std::min(threads, kMaxThreads), total)));
  const bool polled = stop && stop->has_poll();
  if (stop) stop->set_poller(std::this_thread::get_id());
  if (used == 1) {
    body(std::int64_t(0), total);
    return;
  }
  StopToken own;  // stops the workers on a failed start when the caller gave no token
  StopToken& token = stop ? *stop : own;
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(used);
  std::mutex mutex;
  std::condition_variable finished;
  int running = 0;
  std::string start_error;
  pool.reserve(used);
  for (int w = 1; w < used; ++w) {  // chunk 0 is this thread's
    const std::int64_t first = total * w / used, last = total * (w + 1) / used;
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++running;  // before the thread exists: it may finish before emplace_back returns
    }
    try {
      pool.emplace_back([&, w, first, last] {
        try {
          body(first, last);
        } catch (...) {
          errors[w] = std::current_exception();
          token.request_stop();  // the call fails: the other workers need not finish
        }
        std::lock_guard<std::mutex> lock(mutex);
        --running;
        finished.notify_one();
      });
    } catch (const std::system_error& e) {  // thread creation failed (EAGAIN): memory or process limits
      {
        std::lock_guard<std::mutex> lock(mutex);
        --running;
      }
      start_error = "could not start thread " + std::to_string(w + 1) + " of " + std::to_string(used) + " (" +
                    e.what() + "); ask for fewer threads";
      token.request_stop();
      break;
    }
  }
  if (start_error.empty()) {
    try {
      body(std::int64_t(0), total / used);
    } catch (...) {
      errors[0] = std::current_exception();
      token.request_stop();
    }
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    while (running > 0) {
      if (finished.wait_for(lock, kPollInterval, [&] { return running == 0; })) break;
      lock.unlock();
      if (polled) stop->poll();
      lock.lock();
    }
  }
  for (auto& th : pool) th.join();
  if (!start_error.empty()) throw std::runtime_error(start_error);
  for (auto& e : errors) {  // a real failure first: an Interrupted may only be the echo of its stop request
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const Interrupted&) {
    }
  }
  if (stop && stop->stop_requested()) throw Interrupted();
}

}  // namespace optcore
