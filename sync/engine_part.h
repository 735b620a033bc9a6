// What every part of Engine (local_operations.h, reads.h, ... ) is built on: the state they
// share, held by Engine and reached through core_.
#pragma once

namespace sitesync::sync {

class Core;  // sync/src/core.h

class EnginePart {
 protected:
  explicit EnginePart(Core& core) : core_(core) {}
  ~EnginePart() = default;
  EnginePart(const EnginePart&) = delete;
  EnginePart& operator=(const EnginePart&) = delete;
  Core& core_;
};

}  // namespace sitesync::sync
