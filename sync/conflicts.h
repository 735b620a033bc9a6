// Conflicts (DESIGN.md section 6): concurrent writes of one field, an edit beside a delete, two
// customers with one number or one SSN; listed the same on every site, settled by a change.
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
class Conflicts : private EnginePart {
 public:
  // Open conflicts, and with `includeResolved` the ones resolved, with how.
  std::vector<ConflictInfo> conflicts(bool includeResolved) const;
  // Settles a conflict by its id: `take` a value, or keep the winner (nullopt). A field or
  // delete conflict is closed on every node by the write this makes; a number conflict gives the
  // loser `take` (or the next free number); an SSN conflict needs `take` (the corrected SSN).
  Result<Customer> resolveConflict(std::string_view conflictId,
                                   const std::optional<std::string>& take,
                                   const std::string& author);
  // The write resolveConflict() makes, for a caller that submits it itself (the API's group
  // commit): a kResolve or kUpdate op, or for a number conflict kept as it is a kRenumber of
  // the customer that loses the number, authored by `author`. Refused as resolveConflict
  // refuses.
  Result<LocalOp> resolution(std::string_view conflictId, const std::optional<std::string>& take,
                             const std::string& author) const;
  // For the change feed: the conflicts that `change`, logged here at `position`, opened (still
  // open, and the other write or claim was applied here before it, or came by snapshot) and
  // those it resolved, under the ids conflicts() lists open ones by. A number or SSN conflict is
  // resolved by a change that gives up the value (a new number or SSN); one ended by a delete or
  // a merge is not reported.
  ConflictMoves movedBy(const Change& change, uint64_t position) const;

 protected:
  explicit Conflicts(Core& core) : EnginePart(core) {}
};

}  // namespace sitesync::sync
