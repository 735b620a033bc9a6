// Reading the register: customers (merged ones joined into their survivor), searches, history,
// settings, and the state of this site; sealed values opened when a cipher is in use.
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
class Reads : private EnginePart {
 public:
  // Derived flags: "duplicate_number", "possible_duplicate", "in_conflict", "discount_overdrawn",
  // "product_overused" (a product's units used beyond its units, at sites that were apart),
  // "age_alert" (younger than the setting age_alert_years, by this node's clock)
  std::vector<std::string> flags(const Customer& customer) const;
  std::optional<Customer> customer(RecordId id) const;
  // REF: an id ("<site hex>-<counter>") or "#NUMBER": the live customer with that number, else
  // the survivor of the merged one that had it, else the deleted one that had it (to restore).
  Result<RecordId> resolve(std::string_view ref) const;
  // The customer `id` shows under: itself, or the survivor of the merges that absorbed it (a
  // record's debtor follows merges through this).
  RecordId survivor(RecordId id) const;
  std::vector<Customer> list(bool includeDeactivated) const;
  // Every live or deleted customer (merged ones joined into their survivor, erased ones left
  // out), in id order, in one read transaction, without holding them all: for exports. `visit`
  // returns false to stop.
  void forEachCustomer(const std::function<bool(const Customer&)>& visit) const;
  // The live customers whose number, or e-mail address (compared as search compares them), is
  // `value`: for matching imported rows. Other fields: kInvalidArgument.
  Result<std::vector<RecordId>> findLive(CustomerField field, std::string_view value) const;
  std::vector<Customer> search(std::string_view query, size_t limit) const;
  // Pairs of live customers likely to be one person, best first, at most `limit`: the same SSN,
  // e-mail address, phone (national and international forms alike), name and birth date, or name
  // (its words in any order, accents folded). Found through the indexes and one pass over the
  // records, never by comparing all pairs; a value more than 20 customers share (a company's
  // switchboard) is passed over.
  std::vector<DuplicatePair> possibleDuplicates(size_t limit) const;
  // The same for one customer: the others it is likely to be (for a warning after `add`).
  std::vector<DuplicatePair> duplicatesOf(RecordId id) const;
  // The live customers assigned to `technician` here, the latest assignment first (reads every
  // record: for a technician's notifications).
  std::vector<Assignment> assignmentsOf(const std::string& technician) const;
  // Deleted customers (tombstones a restore brings back; not merged or erased ones), and those of
  // them `query` finds as search would (number, phone, name, SSN). Both read every record: they
  // are for finding what to restore, not for the counter.
  std::vector<Customer> listDeleted() const;
  std::vector<Customer> searchDeleted(std::string_view query, size_t limit) const;
  // The customer's history in version order (hlc, origin, seq): each write with the value it
  // wrote and the value its field held just before it in that order; the same on every site
  // that holds the same changes.
  std::vector<HistoryEntry> history(RecordId id) const;
  struct HistoryItem {
    RecordId record;  // the customer the entry is of: `id`, or one merged into it
    HistoryEntry entry;
  };
  // history(id), with `withMerged` joined by the entries of the customers merged into it (each
  // marked with its customer; a merge shows once), in version order.
  std::vector<HistoryItem> historyWithMerged(RecordId id, bool withMerged) const;
  // The customers merged into `id` (directly or through a chain): their history is its too.
  std::vector<RecordId> mergedInto(RecordId id) const;
  // A change at its position in this node's log, the order in which the node applied it.
  struct LoggedChange {
    uint64_t position = 0;
    Change change;  // sealed values opened when a cipher is in use
  };
  struct LogPage {
    // The oldest position still held (0: none). Compaction removes the oldest entries, so a
    // reader that has not seen everything before it has missed changes. Positions never start
    // over: the last entry always stays.
    uint64_t firstHeld = 0;
    uint64_t end = 0;  // the last position (0: nothing logged yet)
    std::vector<LoggedChange> changes;
  };
  // Up to `max` changes logged after `position`, in log order, with the log's bounds, all read
  // in one transaction (the application API's change feed).
  LogPage changesAfter(uint64_t position, size_t max) const;
  Settings settings() const;
  // What this site offered the hub when it joined (empty: nothing), in field order.
  std::vector<OfferedSetting> offeredSettings() const;
  Meta meta() const;
  RegisterStatus status() const;
  // SHA-256 over the canonical replicated state (records incl. tombstones, settings, number
  // leases), hex.
  std::string digestHex() const;
  // The digest of what a filtered site with `filter` holds (docs/filtered-sync.md, "The filtered
  // digest"): at a full site, the trees of customers matching it; at the laptop, its plain
  // digestHex(). Equal once they synced.
  std::string digestHex(const RecordFilter& filter) const;

 protected:
  explicit Reads(Core& core) : EnginePart(core) {}
};

}  // namespace sitesync::sync
