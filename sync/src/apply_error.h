// Private to sync/: a change that cannot be applied (corrupt, out of order, unknown target).
#pragma once

#include <stdexcept>

namespace sitesync::sync {

class ApplyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sitesync::sync
