// The change feed's wake-up (api/src/log_watch.h).
#include "api/src/log_watch.h"

#include <exception>

namespace sitesync::api {

LogWatch::LogWatch(std::function<uint64_t()> logEnd)
    : logEnd_(std::move(logEnd)), thread_([this] { watch(); }) {}

LogWatch::~LogWatch() {
  stop();
  thread_.join();
}

LogWatch::Seat::~Seat() {
  if (!watch_) return;
  std::lock_guard lock(watch_->mutex_);
  --watch_->seatsTaken_;
}

std::optional<LogWatch::Seat> LogWatch::takeSeat() {
  std::lock_guard lock(mutex_);
  if (seatsTaken_ >= kSeats) return std::nullopt;
  ++seatsTaken_;
  return Seat(*this);
}

void LogWatch::waitBeyond(uint64_t position, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (stopping_) return;
  ++waiting_;
  waiterCame_.notify_one();
  grew_.wait_until(lock, deadline, [&] { return stopping_ || knownEnd_ > position; });
  --waiting_;
}

void LogWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  grew_.notify_all();
  waiterCame_.notify_all();
}

bool LogWatch::stopped() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void LogWatch::watch() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (waiting_ == 0) {
      waiterCame_.wait(lock, [&] { return stopping_ || waiting_ > 0; });
      continue;
    }
    lock.unlock();
    uint64_t end = knownEnd_;
    try {
      end = logEnd_();  // a read transaction: not under the lock waiters take
    } catch (const std::exception&) {
      // The store failed; the waiters' own reads meet the failure and report it.
    }
    lock.lock();
    if (end > knownEnd_) {
      knownEnd_ = end;
      grew_.notify_all();
    }
    waiterCame_.wait_for(lock, kPollEvery, [&] { return stopping_; });
  }
}

}  // namespace sitesync::api
