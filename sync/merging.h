// Merging duplicate customers (DESIGN.md section 6): one survives, the others point to it, and
// their later edits made anywhere still reach it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/protocol.h"
#include "sync/engine_part.h"
#include "sync/operations.h"
#include "sync/reports.h"

namespace sitesync::sync {

// A part of Engine (sync/engine.h), which is what callers hold.
class Merging : private EnginePart {
 public:
  // Merges `absorbed` into `survivor` (DESIGN.md section 6): `take` picks, per field, the
  // customer whose value the survivor keeps (default: its own, else the first absorbed one's
  // that is set). The absorbed become tombstones pointing to the survivor; their history, and
  // changes made to them later elsewhere, show on the survivor.
  Result<Customer> merge(RecordId survivor, const std::vector<RecordId>& absorbed,
                         const std::vector<std::pair<Edit, RecordId>>& take,
                         const std::string& author);
  // The LocalOp merge() submits, for a caller that submits it itself (the API's group commit):
  // `take` read into the values chosen. Refused (one line) when a taken customer is unknown or
  // not part of the merge; the rest is checked when the op runs.
  Result<LocalOp> mergeOp(RecordId survivor, const std::vector<RecordId>& absorbed,
                          const std::vector<std::pair<Edit, RecordId>>& take,
                          const std::string& author) const;

 protected:
  explicit Merging(Core& core) : EnginePart(core) {}
};

}  // namespace sitesync::sync
