// Local operations on this site's register (DESIGN.md sections 3 and 6): each is validated against
// the deployment settings, made a change stamped with this site's next seq and clock, signed,
// and applied through the path peers' changes take, in one write transaction.
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
class LocalOperations : private EnginePart {
 public:
  Result<Customer> create(const std::vector<Edit>& edits, const std::string& author);
  Result<Customer> update(RecordId id, const std::vector<Edit>& edits, const std::string& author);
  Result<Customer> setActive(RecordId id, bool active, const std::string& author);
  // Settings belong to the deployment: refused (kFailedPrecondition) at a site that has joined
  // one and is not its hub. A site that has not joined one yet sets its own; when it joins, they
  // are offered to the hub, which keeps those the deployment has no value for
  // (offeredSettings() tells which) and the hub's replace the rest.
  Result<Settings> updateSettings(const std::vector<Edit>& edits, const std::string& author);
  // Delete makes a tombstone (restore brings it back, with edits made concurrently); erase
  // removes the customer's personal data for good, here and on every node it reaches.
  Result<Customer> remove(RecordId id, const std::string& author);
  Result<Customer> restore(RecordId id, const std::string& author);
  Result<Customer> erase(RecordId id, const std::string& author);
  // Adds one to a live customer; `attributes` are Edits with field = the kind's code and key =
  // the attribute (contact: name phone email send_service_protocol send_work_orders; journal:
  // text; discount: type value_cents price_paid_cents valid_until). Returns the new id.
  Result<RecordId> addElement(RecordId customer, uint16_t kind, const std::vector<Edit>& attributes,
                              const std::string& author);
  // Changes attributes of one. A journal entry's text only within journal_edit_window_hours of
  // its writing; deleting it ("deleted=true") within journal_delete_window_hours; a contact is
  // removed with "removed=true".
  Result<Customer> editElement(RecordId customer, uint16_t kind, RecordId element,
                               const std::vector<Edit>& attributes, const std::string& author);
  // Spends from a discount card (refused beyond its balance here; two sites spending offline
  // both count, and an overdrawn card is flagged). Returns the usage's id.
  Result<RecordId> useDiscount(RecordId customer, RecordId card, uint64_t amountCents,
                               const std::string& visit, const std::string& author);
  // Group commit: every op in one write transaction (one fsync). Each op succeeds or is refused
  // on its own; a refused op writes nothing.
  std::vector<OpResult> submit(const std::vector<LocalOp>& ops);
  // What submit would answer, in a transaction that is then abandoned: nothing is written (an
  // import's --dry-run and --strict check).
  std::vector<OpResult> trial(const std::vector<LocalOp>& ops);
  // Called, on the committing thread, after submit commits local changes: a node serving this
  // engine pushes them at once (changes committed by other processes it notices by polling).
  // Set it before other threads use the engine; an empty function removes it.
  void onLocalCommit(std::function<void()> listener);

 protected:
  explicit LocalOperations(Core& core) : EnginePart(core) {}
};

}  // namespace sitesync::sync
