// Reaches into sync::Engine where only tests and benchmarks may: the fuzzer (tests/fuzz) and
// sitesync-bench (tools/bench). The product (sitesync, node/) never includes this header, so a
// running node always checks signatures.
#pragma once

#include "sync/engine.h"
#include "sync/src/core.h"

namespace sitesync::sync {

class EngineTestAccess {
 public:
  // Apply peers' changes without checking their signatures: what verification costs
  // (`sitesync-bench sync --unsigned`), and crafted unsigned changes reaching the apply path
  // (the fuzzer).
  static void skipSignatureChecks(Engine& engine, bool skip) {
    engine.shared_->skipSignatureChecks_ = skip;
  }
};

}  // namespace sitesync::sync
