// Codecs between the plain values of protocol.h and the Cap'n Proto schema. Registers are reached
// through their pointer slot, found once by name through the schema's reflection, so the field
// tables of protocol.h and register.capnp cannot drift apart (a missing name fails at startup).
#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

#include <cstring>
#include <vector>

#include "protocol/protocol.h"
#include "protocol/src/wire.h"
#include "register.capnp.h"

namespace sitesync {

namespace {

template <size_t N>
std::array<uint32_t, N> pointerSlots(capnp::StructSchema schema,
                                     const std::array<FieldInfo, N>& table) {
  std::array<uint32_t, N> slots{};
  for (size_t i = 0; i < N; ++i) {
    KJ_IF_MAYBE (field, schema.findFieldByName(table[i].schemaName)) {
      auto proto = field->getProto();
      if (!proto.isSlot() || field->getType().which() != capnp::schema::Type::STRUCT)
        throw Error(std::string("schema field is not a register: ") + table[i].schemaName);
      slots[i] = proto.getSlot().getOffset();
    } else {
      throw Error(std::string("field table names a field the schema lacks: ") +
                  table[i].schemaName);
    }
  }
  return slots;
}

const std::array<uint32_t, kCustomerFieldCount>& customerSlots() {
  static const auto slots = pointerSlots(capnp::Schema::from<schema::Customer>(), customerFields());
  return slots;
}

const std::array<uint32_t, kSettingsFieldCount>& settingsSlots() {
  static const auto slots = pointerSlots(capnp::Schema::from<schema::Settings>(), settingsFields());
  return slots;
}

// A register whose version equals the record's creation version (most of them) is stored with
// a zero version and seq, which pack to nothing; reading restores them. `implicit` is null for
// Settings.
struct Implicit {
  Version version;
  uint64_t seq = 0;
};

void putHead(schema::Head::Builder b, const Head& h) {
  b.setValue(capnp::Text::Reader(h.value.data(), h.value.size()));
  b.setHlc(h.version.hlc.packed);
  b.setOrigin(h.version.origin);
  b.setSeq(h.seq);
}

Head getHead(schema::Head::Reader r) {
  return Head{wire::text(r.getValue()), Version{Hlc{r.getHlc()}, r.getOrigin(), r.getSeq()},
              r.getSeq()};
}

void putField(schema::Field::Builder b, const FieldValue& v, const Implicit* implicit = nullptr) {
  b.setValue(capnp::Text::Reader(v.value.data(), v.value.size()));
  if (!v.others.empty()) {
    auto list = b.initOthers(static_cast<unsigned>(v.others.size()));
    for (unsigned i = 0; i < v.others.size(); ++i) putHead(list[i], v.others[i]);
  }
  if (!v.replacedEarly.empty()) {
    auto list = b.initReplacedEarly(static_cast<unsigned>(v.replacedEarly.size()));
    for (unsigned i = 0; i < v.replacedEarly.size(); ++i)
      wire::putVersion(list[i], v.replacedEarly[i]);
  }
  if (implicit && v.version == implicit->version && v.seq == implicit->seq) return;
  b.setHlc(v.version.hlc.packed);
  b.setOrigin(v.version.origin);
  b.setSeq(v.seq);
}

FieldValue getField(schema::Field::Reader r, const Implicit* implicit = nullptr) {
  FieldValue f{wire::text(r.getValue()), Version{Hlc{r.getHlc()}, r.getOrigin()}, r.getSeq(), {}};
  if (implicit && f.version.isNull()) {
    f.version = implicit->version;
    f.seq = implicit->seq;
  }
  f.version.seq = f.seq;
  for (auto v : wire::capped(r.getReplacedEarly(), wire::kMaxHeads, "replaced versions"))
    f.replacedEarly.push_back(wire::getVersion(v));
  auto others = wire::capped(r.getOthers(), wire::kMaxHeads, "heads");
  f.others.reserve(others.size());
  for (auto h : others) f.others.push_back(getHead(h));
  return f;
}

template <size_t N>
void putRegisters(capnp::AnyStruct::Builder any, const std::array<uint32_t, N>& slots,
                  const std::array<FieldValue, N>& fields, const Implicit* implicit = nullptr) {
  auto ptrs = any.getPointerSection();
  for (size_t i = 0; i < N; ++i)
    if (!fields[i].version.isNull())
      putField(ptrs[slots[i]].template initAs<schema::Field>(), fields[i], implicit);
}

template <size_t N>
void getRegisters(capnp::AnyStruct::Reader any, const std::array<uint32_t, N>& slots,
                  std::array<FieldValue, N>& fields, const Implicit* implicit = nullptr) {
  auto ptrs = any.getPointerSection();
  for (size_t i = 0; i < N; ++i) {
    if (slots[i] >= ptrs.size()) continue;  // written by an older schema
    auto p = ptrs[slots[i]];
    if (!p.isNull()) fields[i] = getField(p.template getAs<schema::Field>(), implicit);
  }
}

// A customer's creating change is (id.site, id.counter): the id is made from it.
Implicit createdImplicit(const Customer& c) {
  return Implicit{c.created, c.created.origin == c.id.site ? c.id.counter : 0};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Customer

void encode(const Customer& c, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::Customer>();
  wire::putId(b.initId(), c.id);
  b.setLifecycle(static_cast<schema::Lifecycle>(c.lifecycle));
  if (!c.mergedInto.isNull()) wire::putId(b.initMergedInto(), c.mergedInto);
  if (!c.lifecycleVersion.isNull()) wire::putVersion(b.initLifecycleVersion(), c.lifecycleVersion);
  wire::putVersion(b.initCreated(), c.created);
  const Implicit implicit = createdImplicit(c);
  putRegisters(capnp::AnyStruct::Builder(decltype(b)(b)), customerSlots(), c.fields, &implicit);
  if (!c.customFields.empty()) {
    auto list = b.initCustomFields(static_cast<unsigned>(c.customFields.size()));
    unsigned i = 0;
    for (const auto& [name, value] : c.customFields) {
      list[i].setName(capnp::Text::Reader(name.data(), name.size()));
      putField(list[i].initField(), value, &implicit);
      ++i;
    }
  }
  if (!c.elements.empty()) {
    auto list = b.initElements(static_cast<unsigned>(c.elements.size()));
    unsigned i = 0;
    for (const auto& [where, value] : c.elements) {
      list[i].setKind(where.first);
      list[i].setKey(capnp::Text::Reader(where.second.data(), where.second.size()));
      putField(list[i].initField(), value, &implicit);
      ++i;
    }
  }
  wire::toBytes(mb, out);
}

Customer decodeCustomer(std::string_view bytes) {
  return wire::read<schema::Customer>(bytes, [](schema::Customer::Reader r) {
    Customer c;
    c.id = wire::getId(r.getId());
    auto lifecycle = static_cast<uint16_t>(r.getLifecycle());
    if (lifecycle > static_cast<uint16_t>(Lifecycle::kErased))
      throw DecodeError("unknown customer lifecycle " + std::to_string(lifecycle));
    c.lifecycle = static_cast<Lifecycle>(lifecycle);
    if (r.hasMergedInto()) c.mergedInto = wire::getId(r.getMergedInto());
    if (r.hasLifecycleVersion()) c.lifecycleVersion = wire::getVersion(r.getLifecycleVersion());
    c.created = wire::getVersion(r.getCreated());
    const Implicit implicit = createdImplicit(c);
    getRegisters(capnp::AnyStruct::Reader(r), customerSlots(), c.fields, &implicit);
    for (auto cf : wire::capped(r.getCustomFields(), wire::kMaxWrites, "custom fields"))
      c.customFields.emplace(wire::text(cf.getName()), getField(cf.getField(), &implicit));
    for (auto e : wire::capped(r.getElements(), wire::kMaxListed, "collection registers")) {
      if (!isElementCode(e.getKind()) && e.getKind() != kTechnicianCode)
        throw DecodeError("unknown collection kind " + std::to_string(e.getKind()));
      c.elements.emplace(std::make_pair(e.getKind(), wire::text(e.getKey())),
                         getField(e.getField(), &implicit));
    }
    return c;
  });
}

// ---------------------------------------------------------------------------------------------
// Settings

void encode(const Settings& s, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::Settings>();
  putRegisters(capnp::AnyStruct::Builder(decltype(b)(b)), settingsSlots(), s.fields);
  auto putKeyed = [](auto list, const std::map<std::string, FieldValue>& keyed) {
    unsigned i = 0;
    for (const auto& [name, value] : keyed) {
      list[i].setName(capnp::Text::Reader(name.data(), name.size()));
      putField(list[i].initField(), value, nullptr);
      ++i;
    }
  };
  if (!s.users.empty()) putKeyed(b.initUsers(unsigned(s.users.size())), s.users);
  if (!s.customFieldDefinitions.empty())
    putKeyed(b.initCustomFieldDefinitions(unsigned(s.customFieldDefinitions.size())),
             s.customFieldDefinitions);
  if (!s.customerGroups.empty())
    putKeyed(b.initCustomerGroups(unsigned(s.customerGroups.size())), s.customerGroups);
  if (!s.discountTypes.empty())
    putKeyed(b.initDiscountTypes(unsigned(s.discountTypes.size())), s.discountTypes);
  wire::toBytes(mb, out);
}

Settings decodeSettings(std::string_view bytes) {
  return wire::read<schema::Settings>(bytes, [](schema::Settings::Reader r) {
    Settings s;
    getRegisters(capnp::AnyStruct::Reader(r), settingsSlots(), s.fields);
    for (auto user : wire::capped(r.getUsers(), wire::kMaxListed, "users"))
      s.users.emplace(wire::text(user.getName()), getField(user.getField(), nullptr));
    for (auto d : wire::capped(r.getCustomFieldDefinitions(), wire::kMaxListed, "definitions"))
      s.customFieldDefinitions.emplace(wire::text(d.getName()), getField(d.getField(), nullptr));
    for (auto g : wire::capped(r.getCustomerGroups(), wire::kMaxListed, "customer groups"))
      s.customerGroups.emplace(wire::text(g.getName()), getField(g.getField(), nullptr));
    for (auto t : wire::capped(r.getDiscountTypes(), wire::kMaxListed, "discount types"))
      s.discountTypes.emplace(wire::text(t.getName()), getField(t.getField(), nullptr));
    return s;
  });
}

// ---------------------------------------------------------------------------------------------
// Change

namespace {

// The id and checkpoint flag from a change's first words, when it is laid out as encode() lays
// it out (one segment, the root struct right after its pointer); nullopt for any other layout.
// A sender reads the id of every change it sends: unpacking whole changes (~60 words) for the
// 3 words it needs was a fifth of a branch's CPU in the 1M bulk. Cap'n Proto's encoding:
// word 0 the segment table (count - 1, then the first segment's size), word 1 the root pointer
// (offset, data words, pointer count), then the struct: origin and seq are its data words 0 and 1,
// `signature` its pointer 4.
std::optional<ChangeId> peekChangeId(std::string_view bytes, bool* checkpoint) {
  constexpr size_t kSignaturePointer = 4;
  constexpr size_t kHeadWords = 2 + 4 + 8;  // table, root pointer, Change's data and pointers
  thread_local std::vector<uint64_t> words(32);
  words.resize(words.capacity());
  if (!wire::unpackWords(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), words,
                         wire::kMaxMessageWords, kHeadWords) ||
      words.size() < 2)
    return std::nullopt;
  const uint64_t table = words[0], root = words[1];
  const uint64_t segmentWords = table >> 32;
  const bool oneSegment = uint32_t(table) == 0;
  const bool structRightAfter = uint32_t(root) == 0;  // a struct pointer (tag 0) with offset 0
  const size_t dataWords = (root >> 32) & 0xffff, pointers = root >> 48;
  const size_t structEnd = 2 + dataWords + pointers;  // in words from the message's start
  if (!oneSegment || !structRightAfter || dataWords < 2 || structEnd - 1 > segmentWords ||
      structEnd > words.size())
    return std::nullopt;
  if (checkpoint)
    *checkpoint = pointers > kSignaturePointer && words[2 + dataWords + kSignaturePointer] != 0;
  return ChangeId{words[2], words[3]};
}

}  // namespace

ChangeId decodeChangeId(std::string_view bytes, bool* checkpoint) {
  if (auto id = peekChangeId(bytes, checkpoint)) return *id;
  return wire::read<schema::Change>(bytes, [checkpoint](schema::Change::Reader r) {
    if (checkpoint) *checkpoint = r.hasSignature();
    return ChangeId{r.getOrigin(), r.getSeq()};
  });
}

ChangeScope decodeChangeScope(std::string_view bytes) {
  return wire::read<schema::Change>(bytes, [](schema::Change::Reader r) {
    ChangeScope c;
    c.id = ChangeId{r.getOrigin(), r.getSeq()};
    c.operation = static_cast<Operation>(r.getOperation());
    c.target = wire::getId(r.getTarget());
    for (auto id : wire::capped(r.getAbsorbed(), wire::kMaxWrites, "absorbed customers"))
      c.absorbed.push_back(wire::getId(id));
    return c;
  });
}

void encode(const Change& c, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::Change>();
  b.setOrigin(c.id.origin);
  b.setSeq(c.id.seq);
  b.setHlc(c.hlc.packed);
  b.setOperation(static_cast<schema::Operation>(c.operation));
  wire::putId(b.initTarget(), c.target);
  if (!c.author.empty()) b.setAuthor(capnp::Text::Reader(c.author.data(), c.author.size()));
  auto writes = b.initWrites(static_cast<unsigned>(c.writes.size()));
  for (unsigned i = 0; i < c.writes.size(); ++i) {
    const auto& w = c.writes[i];
    auto wb = writes[i];
    wb.setField(w.field);
    if (!w.key.empty()) wb.setKey(capnp::Text::Reader(w.key.data(), w.key.size()));
    wb.setValue(capnp::Text::Reader(w.value.data(), w.value.size()));
    if (!w.replaces.empty()) {
      auto rep = wb.initReplaces(static_cast<unsigned>(w.replaces.size()));
      for (unsigned k = 0; k < w.replaces.size(); ++k) wire::putVersion(rep[k], w.replaces[k]);
    }
  }
  if (!c.absorbed.empty()) {
    auto abs = b.initAbsorbed(static_cast<unsigned>(c.absorbed.size()));
    for (unsigned i = 0; i < c.absorbed.size(); ++i) wire::putId(abs[i], c.absorbed[i]);
  }
  if (!c.note.empty()) b.setNote(capnp::Text::Reader(c.note.data(), c.note.size()));
  if (c.lease.site != 0)
    wire::putLease(b.initLease(), NumberLease{c.lease.site, c.lease.first, c.lease.last, {}});
  if (!c.signature.empty())
    b.setSignature(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(c.signature.data()),
                                       c.signature.size()));
  if (!c.personalHash.empty())
    b.setPersonalHash(capnp::Data::Reader(
        reinterpret_cast<const capnp::byte*>(c.personalHash.data()), c.personalHash.size()));
  wire::toBytes(mb, out);
}

Change decodeChange(std::string_view bytes) {
  return wire::read<schema::Change>(bytes, [](schema::Change::Reader r) {
    Change c;
    c.id = ChangeId{r.getOrigin(), r.getSeq()};
    c.hlc = Hlc{r.getHlc()};
    auto op = static_cast<uint16_t>(r.getOperation());
    if (op > static_cast<uint16_t>(Operation::kLease))
      throw DecodeError("unknown operation " + std::to_string(op));
    c.operation = static_cast<Operation>(op);
    c.target = wire::getId(r.getTarget());
    c.author = wire::text(r.getAuthor());
    auto writes = wire::capped(r.getWrites(), wire::kMaxWrites, "field writes");
    c.writes.reserve(writes.size());
    for (auto w : writes) {
      FieldWrite fw;
      fw.field = w.getField();
      fw.key = wire::text(w.getKey());
      fw.value = wire::text(w.getValue());
      for (auto v : wire::capped(w.getReplaces(), 256, "replaced versions of one field"))
        fw.replaces.push_back(wire::getVersion(v));
      c.writes.push_back(std::move(fw));
    }
    for (auto id : wire::capped(r.getAbsorbed(), wire::kMaxWrites, "absorbed customers"))
      c.absorbed.push_back(wire::getId(id));
    auto sig = r.getSignature();
    c.signature.assign(reinterpret_cast<const char*>(sig.begin()), sig.size());
    auto personal = r.getPersonalHash();
    c.personalHash.assign(reinterpret_cast<const char*>(personal.begin()), personal.size());
    c.note = wire::text(r.getNote());
    if (r.hasLease()) {
      c.lease = wire::getLease(r.getLease());
      c.lease.version = {};  // a Change's lease has the change's version
    }
    return c;
  });
}

// ---------------------------------------------------------------------------------------------
// History entry and meta

void encode(const HistoryEntry& h, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::HistoryEntry>();
  b.setAt(h.at.packed);
  b.setSite(h.site);
  b.setSeq(h.seq);
  if (!h.author.empty()) b.setAuthor(capnp::Text::Reader(h.author.data(), h.author.size()));
  b.setOperation(static_cast<schema::Operation>(h.operation));
  if (!h.changes.empty()) {
    auto list = b.initChanges(static_cast<unsigned>(h.changes.size()));
    for (unsigned i = 0; i < h.changes.size(); ++i) {
      const auto& fc = h.changes[i];
      list[i].setField(fc.field);
      if (!fc.key.empty()) list[i].setKey(capnp::Text::Reader(fc.key.data(), fc.key.size()));
      if (!fc.oldValue.empty())
        list[i].setOld(capnp::Text::Reader(fc.oldValue.data(), fc.oldValue.size()));
      list[i].setNew(capnp::Text::Reader(fc.newValue.data(), fc.newValue.size()));
      if (!fc.replaces.empty()) {
        auto rep = list[i].initReplaces(static_cast<unsigned>(fc.replaces.size()));
        for (unsigned k = 0; k < fc.replaces.size(); ++k) wire::putVersion(rep[k], fc.replaces[k]);
      }
    }
  }
  if (!h.createdFields.empty()) {
    auto list = b.initCreatedFields(static_cast<unsigned>(h.createdFields.size()));
    for (unsigned i = 0; i < h.createdFields.size(); ++i) list.set(i, h.createdFields[i]);
  }
  if (!h.note.empty()) b.setNote(capnp::Text::Reader(h.note.data(), h.note.size()));
  b.setEveryWrite(h.everyWrite);
  b.setValuesInLog(h.valuesInLog);
  if (!h.closed.empty()) {
    auto list = b.initClosed(static_cast<unsigned>(h.closed.size()));
    for (unsigned i = 0; i < h.closed.size(); ++i) {
      const auto& cc = h.closed[i];
      list[i].setField(cc.field);
      if (!cc.key.empty()) list[i].setKey(capnp::Text::Reader(cc.key.data(), cc.key.size()));
      putHead(list[i].initWinner(), cc.winner);
      putHead(list[i].initLoser(), cc.loser);
    }
  }
  wire::toBytes(mb, out);
}

HistoryEntry decodeHistoryEntry(std::string_view bytes) {
  return wire::read<schema::HistoryEntry>(bytes, [](schema::HistoryEntry::Reader r) {
    HistoryEntry h;
    h.at = Hlc{r.getAt()};
    h.site = r.getSite();
    h.seq = r.getSeq();
    h.author = wire::text(r.getAuthor());
    h.operation = static_cast<Operation>(r.getOperation());
    for (auto fc : wire::capped(r.getChanges(), wire::kMaxListed, "field changes")) {
      h.changes.push_back(FieldChange{fc.getField(), wire::text(fc.getKey()),
                                      wire::text(fc.getOld()), wire::text(fc.getNew())});
      for (auto v : wire::capped(fc.getReplaces(), 256, "replaced versions of one field"))
        h.changes.back().replaces.push_back(wire::getVersion(v));
    }
    h.everyWrite = r.getEveryWrite();
    h.valuesInLog = r.getValuesInLog();
    for (auto f : wire::capped(r.getCreatedFields(), wire::kMaxWrites, "created fields"))
      h.createdFields.push_back(f);
    for (auto cc : wire::capped(r.getClosed(), wire::kMaxListed, "closed conflicts"))
      h.closed.push_back(ClosedConflict{cc.getField(), wire::text(cc.getKey()),
                                        getHead(cc.getWinner()), getHead(cc.getLoser())});
    h.note = wire::text(r.getNote());
    return h;
  });
}

}  // namespace sitesync
