// Internal to sync/: how the conflict list is derived from the replicated state (conflicts.cpp),
// shared with what a change did to it (conflict_moves.cpp, for the API's change feed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/reports.h"

namespace sitesync::sync {

// 12 hex digits of SHA-256 over what identifies the conflict: the same id on every node.
std::string conflictId(std::string_view kind, RecordId customer, uint16_t field,
                       const std::string& key, Version a, Version b);
// Which of several customers claiming one value keeps it: the smaller version of that field's
// write (then the smaller id), the same rule on every node. Keeper first.
std::vector<Customer> byClaim(const storage::Store& store, const storage::ReadTxn& txn,
                              const std::vector<RecordId>& ids, CustomerField field);
// A number or SSN conflict for each claimant after the first (`claimants` as byClaim orders them).
void addClaimConflicts(std::vector<ConflictInfo>& out, const std::vector<Customer>& claimants,
                       ConflictKind kind, CustomerField field);
// The conflicts a history entry closed: a resolution's (or a restore's) settled heads, and the
// hub's renumbering of a customer that lost its number.
void addResolved(std::vector<ConflictInfo>& out, RecordId id, const HistoryEntry& entry);
// The customer's registers with concurrent values: each other value is a conflict with the one
// shown (an edit concurrent with a delete: a delete conflict, the delete standing).
void addFieldConflicts(std::vector<ConflictInfo>& out, const Customer& c);

}  // namespace sitesync::sync
