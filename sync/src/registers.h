// Private to sync/: the multi-value register (DESIGN.md section 6). A field's heads are the
// writes no later write has replaced; the largest version is shown, the others are an open
// conflict. Every function here depends only on the set of writes, not on their order.
#pragma once

#include <string>
#include <vector>

#include "protocol/protocol.h"

namespace sitesync::sync {

// Calls fn(field, key, register) for every written register of the customer.
template <typename Fn>
void forEachRegister(const Customer& c, Fn&& fn) {
  for (uint16_t f = 0; f < kCustomerFieldCount; ++f)
    if (!c.fields[f].version.isNull()) fn(f, std::string(), c.fields[f]);
  for (const auto& [name, value] : c.customFields)
    if (!value.version.isNull()) fn(kCustomFieldCode, name, value);
  for (const auto& [where, value] : c.elements)
    if (!value.version.isNull()) fn(where.first, where.second, value);
}

// Every head of the register, the shown one first (none for a field never written).
std::vector<Head> headsOf(const FieldValue& register_);
// The versions a write made after seeing the register replaces: all of its heads.
std::vector<Version> headVersions(const FieldValue& register_);
// Makes `heads` the register's heads: the largest version shown, the rest kept largest first.
void setHeads(FieldValue& register_, std::vector<Head> heads);

// Applies one write: removes the heads it replaces (returned in `removed`) and adds it. A
// replaced write that is neither a head nor `held` has not arrived yet (a batch overtook
// another): it is remembered, and not made a head when it comes. Returns false when the write
// leaves the shown value and the heads as they were.
bool writeRegister(FieldValue& register_, Head write, const std::vector<Version>& replaces,
                   const VersionVector& held, std::vector<Head>& removed);

// Joins two states of one register given what each side had seen (its version vector): a head
// that only one side holds survives unless the other side has seen that write (and so has
// replaced it). Used when a snapshot is merged into a store that already holds data.
FieldValue joinRegisters(const FieldValue& local, const VersionVector& localSeen,
                         const FieldValue& remote, const VersionVector& remoteSeen);

}  // namespace sitesync::sync
