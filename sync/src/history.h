// Private to sync/: deriving a customer's history from its stored entries (sync/src/history.cpp).
// Stored entries list what each change wrote; the value before each write and the conflicts a
// resolution settled are derived on read, in version order, so they are the same on every site.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/protocol.h"

namespace sitesync::sync {

// Sorts entries by version: (hlc, origin site, seq).
void orderHistory(std::vector<HistoryEntry>& entries);
// Gives each write of entries in version order (one customer's) the value its field held just
// before it: the previous write's in that order, "" for the first.
void fillOldValues(std::vector<HistoryEntry>& entries);

// Whether an entry may have closed a conflict: a write of it replaced two or more heads, or the
// hub renumbered a customer that lost its number (an update with a note).
bool mayResolve(const HistoryEntry& entry);

// The values of the writes that resolutions replaced, gathered in two passes over the entries:
// need() every entry, then offer() every entry with the customer it belongs to; then
// fillClosed() gives a resolution the conflicts it settled.
class ReplacedWrites {
 public:
  void need(const HistoryEntry& entry);
  void offer(RecordId record, const HistoryEntry& entry);
  // For each write that replaced two or more heads: the largest one (the value shown while the
  // conflict was open) against each other one.
  void fillClosed(RecordId record, HistoryEntry& entry) const;

 private:
  struct Written {
    RecordId record;
    Head head;
  };
  std::map<std::tuple<uint16_t, std::string, uint64_t, SiteId>, std::vector<Written>> needed_;
};

}  // namespace sitesync::sync
