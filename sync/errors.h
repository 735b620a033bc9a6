// sync's exceptions (of the one hierarchy, protocol/status.h): a peer's change that cannot be
// applied (corrupt, out of order, unknown target), and one stamped too far ahead.
#pragma once

#include "protocol/status.h"

namespace sitesync::sync {

class ApplyError : public Error {
 public:
  using Error::Error;
};

// A peer's change stamped further ahead of this node's clock than max_clock_skew allows: its
// batch is set aside in the inbox, not applied, until the clocks agree (`inbox retry`).
class ClockSkewError : public ApplyError {
 public:
  using ApplyError::ApplyError;
};

}  // namespace sitesync::sync
