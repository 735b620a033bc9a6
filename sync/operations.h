// What a local operation asks for (edits of fields, a kind of operation on a customer) and what
// it returned; a customer card's collections as read from its registers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "protocol/model.h"
#include "protocol/status.h"

namespace sitesync::sync {

// One field assignment requested by a user: a customer field (or custom field by key), or a
// settings field, with its new value ("" clears it).
struct Edit {
  uint16_t field = 0;
  std::string key;  // custom field name when field == kCustomFieldCode
  std::string value;
};

// A local operation, applied with others in one transaction by LocalOperations::submit (group
// commit).
struct LocalOp {
  // kAssignNumber: a customer waiting for a number gets the next automatic one; kRenumber: the
  // hub gives a customer that lost its number to an earlier claim a new one (`note`: why).
  enum class Kind {
    kCreate,
    kUpdate,
    kSettings,
    kDelete,
    kRestore,
    kErase,
    kResolve,
    kAssignNumber,
    kRenumber,
    kMerge,
    kElement
  };
  Kind kind = Kind::kCreate;
  RecordId target;  // every kind but kCreate and kSettings
  // kResolve: one edit, the field whose heads it settles and the value chosen.
  std::vector<Edit> edits;
  std::string author;     // user id recorded in the change and the history ("who")
  std::string note = {};  // why, when a machine made it (the hub's renumbering)
  // kMerge: the customers merged into `target`; `edits` are the values chosen where the
  // default (the survivor's own, else the first absorbed one's that is set) is not wanted.
  std::vector<RecordId> absorbed = {};
  // kElement: the contact, journal entry or discount card of `target` that `edits` change
  // (field: the kind's code, key: the attribute); null adds a new one. A card's usage is the
  // attribute "usage" with the value "<cents>|<visit>".
  RecordId element = {};
};

// The ops of LocalOperations::addElement (`element` null), editElement and useDiscount, for a
// caller that submits them itself (the API's group commit).
LocalOp elementOp(RecordId customer, uint16_t kind, RecordId element, std::vector<Edit> attributes,
                  const std::string& author);
LocalOp discountUseOp(RecordId customer, RecordId card, uint64_t amountCents,
                      const std::string& visit, const std::string& author);

struct OpResult {
  static OpResult refused(Status why) {
    OpResult r;
    r.status = std::move(why);
    return r;
  }
  Status status;
  RecordId id;           // the customer created or updated
  bool changed = false;  // false: nothing to write (values already as requested)
  ChangeId change;       // when changed
  RecordId element;      // kElement: the element added or changed (a usage: the usage's id)
};

// A contact, journal entry, discount card or linked record of a customer, read from its registers.
struct CardElement {
  uint16_t kind = 0;  // kContactCode, kJournalCode, kDiscountCode, kRecordCode
  RecordId id;
  std::map<std::string, std::string> attributes;  // the shown values that are set
  bool inConflict = false;                        // an attribute has concurrent values
  struct Usage {
    RecordId id;
    int64_t amountCents = 0;
    std::string visit;
    Hlc at;
    SiteId site = 0;
  };
  // Discount cards' and records' (products'), in id order; a record's amountCents is units and
  // its visit the note.
  std::vector<Usage> usages;
  int64_t balanceCents = 0;  // discount cards: value_cents minus every usage
  int64_t unitsLeft = 0;     // records with units (products): units minus every usage
  Hlc addedAt;               // records: when it was made (its kind's write)
  // A removed contact, a deleted journal entry or record (kept, so that replicas converge).
  bool gone() const;
  // The value of an attribute ("" when not set).
  std::string attribute(const std::string& name) const;
};
// The customer's contacts, journal entries, discount cards and records, by kind then id.
std::vector<CardElement> cardElements(const Customer& customer);

}  // namespace sitesync::sync
