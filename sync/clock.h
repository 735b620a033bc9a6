// The clock of the sync engine: wall time injected (the simulation drives its own) and the hybrid
// logical clock's rules (DESIGN.md section 4; docs/protocol.md "Clocks (HLC)").
#pragma once

#include <cstdint>

#include "protocol/ids.h"

namespace sitesync::sync {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t nowMillis() = 0;  // wall clock, milliseconds since the epoch
};

class SystemClock final : public Clock {
 public:
  uint64_t nowMillis() override;
};

// Hybrid logical clock rules (DESIGN.md section 4).
// A local event: later than `last` and than the wall clock.
Hlc hlcTick(Hlc last, uint64_t nowMillis);
// Receiving `remote`: later than both `last` and `remote`, and than the wall clock.
Hlc hlcObserve(Hlc last, Hlc remote, uint64_t nowMillis);

}  // namespace sitesync::sync
