// Linked records: what a record may hold beyond the value kinds of its attributes. The debtor
// link names a customer by id; it is shown through merges (Reads::survivor), so it follows the
// customer it names like the record follows its own.
#include "sync/src/linked_records.h"

#include <algorithm>
#include <iterator>

#include "storage/store.h"
#include "sync/src/core.h"

namespace sitesync::sync {

Status checkRecordAttribute(const CardElement* existing, const Edit& edit) {
  if (edit.key == "kind") {
    if (std::none_of(std::begin(kRecordKinds), std::end(kRecordKinds),
                     [&](const char* k) { return edit.value == k; }))
      return Status::invalidArgument("record kind '" + edit.value +
                                     "' is not one of booking, order, invoice, product");
    if (existing && existing->attribute("kind") != edit.value)
      return Status::invalidArgument("record " + existing->id.toString() + " is a " +
                                     existing->attribute("kind") +
                                     "; a record keeps the kind it was made with");
  }
  if (edit.key == "debtor" && !edit.value.empty()) {
    auto id = RecordId::parse(edit.value);
    if (!id || id->isNull())
      return Status::invalidArgument("record debtor '" + edit.value +
                                     "' is not a customer id (<site hex>-<counter>)");
  }
  return Status::ok();
}

Status Core::checkDebtor(const storage::ReadTxn& txn, const Customer& owner,
                         const std::vector<Edit>& edits) const {
  for (const Edit& e : edits) {
    if (e.key != "debtor" || e.value.empty()) continue;
    const RecordId debtor = survivorOf(txn, *RecordId::parse(e.value));
    auto payer = elementOwner(txn, debtor);
    if (!payer.isOk()) return Status(payer.status().code(), "debtor: " + payer.status().message());
    if (debtor == owner.id)
      return Status::invalidArgument("a record's debtor is another customer than its own");
  }
  return Status::ok();
}

void Core::followDebtors(const storage::ReadTxn& txn, Customer& shown) const {
  auto follow = [&](std::string& value) {
    auto id = RecordId::parse(value);
    if (id && !id->isNull()) value = survivorOf(txn, *id).toString();
  };
  for (auto& [where, r] : shown.elements) {
    if (where.first != kRecordCode || !where.second.ends_with("/debtor")) continue;
    follow(r.value);
    for (Head& h : r.others) follow(h.value);
  }
}

}  // namespace sitesync::sync
