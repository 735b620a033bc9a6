// Internal to api/: telling the change feed's waiting requests that the node's log grew.
// Changes reach the log from this process's group commit, from peers through the serve loop,
// and from other processes (`sitesync customer add` against the same directory), so the one
// signal all of them give is the log's end: while a request waits, one thread reads it every
// few milliseconds (one cheap read transaction) and wakes the waiters when it grew. Nothing
// polls while nobody waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace sitesync::api {

class LogWatch {
 public:
  using Clock = std::chrono::steady_clock;
  // `logEnd` gives the log's last position (sync::Engine::logEnd); called from the watch's thread.
  explicit LogWatch(std::function<uint64_t()> logEnd);
  ~LogWatch();  // stop(), then the thread ends
  LogWatch(const LogWatch&) = delete;
  LogWatch& operator=(const LogWatch&) = delete;

  // A waiting request holds one of a limited number of seats for as long as it waits (a long
  // poll) or streams (SSE), so that waiting requests leave the server threads for the others.
  class Seat {
   public:
    explicit Seat(LogWatch& watch) : watch_(&watch) {}
    Seat(Seat&& other) noexcept : watch_(std::exchange(other.watch_, nullptr)) {}
    Seat& operator=(Seat&&) = delete;
    ~Seat();

   private:
    LogWatch* watch_;
  };
  // A seat, or nothing when every seat is taken.
  std::optional<Seat> takeSeat();

  // Waits until the log ends after `position`, `deadline` passes or the watch stops.
  void waitBeyond(uint64_t position, Clock::time_point deadline);
  // Wakes every waiter; waits from then on return at once. The server calls it first when it
  // stops, so that no long poll or stream holds a server thread.
  void stop();
  bool stopped() const;

  static constexpr int kSeats = 48;
  static constexpr std::chrono::milliseconds kPollEvery{2};

 private:
  void watch();

  std::function<uint64_t()> logEnd_;
  mutable std::mutex mutex_;
  std::condition_variable grew_;        // waiters: the log grew, or stop
  std::condition_variable waiterCame_;  // the watch's thread: someone waits, or stop
  uint64_t knownEnd_ = 0;
  int waiting_ = 0;
  int seatsTaken_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sitesync::api
