// Private to sync/: a change that cannot be applied (corrupt, out of order, unknown target).
#pragma once

#include <stdexcept>

namespace sitesync::sync {

class ApplyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A peer's change stamped further ahead of this node's clock than max_clock_skew allows: its
// batch is set aside in the inbox, not applied, until the clocks agree (`inbox retry`).
class ClockSkewError : public ApplyError {
 public:
  using ApplyError::ApplyError;
};

}  // namespace sitesync::sync
