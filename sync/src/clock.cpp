// The wall clock, and the hybrid logical clock's rules (DESIGN.md section 4).
#include <algorithm>
#include <chrono>

#include "sync/clock.h"

namespace sitesync::sync {

uint64_t SystemClock::nowMillis() {
  using namespace std::chrono;
  return uint64_t(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

namespace {
constexpr uint64_t kMaxLogical = (uint64_t(1) << Hlc::kLogicalBits) - 1;

// Next HLC strictly after `base`, not before `nowMillis`. When the logical counter would
// overflow, borrow the next millisecond (the clock runs ahead by at most that much).
Hlc after(Hlc base, uint64_t nowMillis) {
  if (nowMillis > base.millis()) return Hlc::from(nowMillis, 0);
  if (base.logical() < kMaxLogical) return Hlc::from(base.millis(), base.logical() + 1);
  return Hlc::from(base.millis() + 1, 0);
}
}  // namespace

Hlc hlcTick(Hlc last, uint64_t nowMillis) {
  return after(last, nowMillis);
}

Hlc hlcObserve(Hlc last, Hlc remote, uint64_t nowMillis) {
  return after(std::max(last, remote), nowMillis);
}

}  // namespace sitesync::sync
