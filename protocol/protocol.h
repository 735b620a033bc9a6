// protocol: the vocabulary every layer shares (site, record and change ids, hybrid logical clock,
// versions, version vectors, Status/Result), the customer/settings/change data model, and the
// codecs between these plain C++ values and the Cap'n Proto schema (protocol/schema/*.capnp) that
// is both the on-disk and the wire format. Decoding untrusted bytes throws DecodeError.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sitesync {

// ---------------------------------------------------------------------------------------------
// Status / Result: expected failures are values.

enum class StatusCode {
  kOk,
  kInvalidArgument,     // bad user input: unknown field, malformed value, bad length
  kNotFound,            // unknown reference
  kAlreadyExists,       // duplicate customer number / SSN
  kFailedPrecondition,  // operation not allowed in the current state (e.g. deleted customer)
  kInternal,
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }
  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {}  // NOLINT
  bool isOk() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status kOkStatus;
    return isOk() ? kOkStatus : std::get<Status>(value_);
  }
  T& value() { return std::get<T>(value_); }
  const T& value() const { return std::get<T>(value_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> value_;
};

// Malformed or hostile bytes where a schema message was expected.
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// Identity, clocks, versions (DESIGN.md section 4).

using SiteId = uint64_t;

struct RecordId {
  SiteId site = 0;
  uint64_t counter = 0;
  bool isNull() const { return site == 0 && counter == 0; }
  auto operator<=>(const RecordId&) const = default;
  // "<16 hex digits of the site>-<counter>", e.g. "1f3a5c7e9b2d4f60-42".
  std::string toString() const;
  static std::optional<RecordId> parse(std::string_view text);
};

// Hybrid logical clock: 48 bits of physical milliseconds, 16 bits of logical counter.
struct Hlc {
  uint64_t packed = 0;
  static constexpr int kLogicalBits = 16;
  uint64_t millis() const { return packed >> kLogicalBits; }
  uint64_t logical() const { return packed & ((1u << kLogicalBits) - 1); }
  static Hlc from(uint64_t millis, uint64_t logical) {
    return Hlc{(millis << kLogicalBits) | logical};
  }
  auto operator<=>(const Hlc&) const = default;
  // ISO 8601 UTC with milliseconds, for people.
  std::string toIso8601() const;
};

// Version of a field write: (hlc, origin), totally ordered. `seq` names the write's change,
// (origin, seq), so that a node can tell whether it holds that change; it is carried along
// and is not part of the order (one (hlc, origin) has one seq).
struct Version {
  Hlc hlc;
  SiteId origin = 0;
  uint64_t seq = 0;
  bool isNull() const { return hlc.packed == 0 && origin == 0; }
  std::strong_ordering operator<=>(const Version& o) const {
    if (auto c = hlc <=> o.hlc; c != 0) return c;
    return origin <=> o.origin;
  }
  bool operator==(const Version& o) const { return hlc == o.hlc && origin == o.origin; }
};

struct ChangeId {
  SiteId origin = 0;
  uint64_t seq = 0;
  auto operator<=>(const ChangeId&) const = default;
};

// For each origin, the highest seq held with no gaps.
class VersionVector {
 public:
  uint64_t get(SiteId origin) const;
  void set(SiteId origin, uint64_t seq) { entries_[origin] = seq; }
  bool contains(ChangeId id) const { return get(id.origin) >= id.seq; }
  void clear() { entries_.clear(); }
  const std::map<SiteId, uint64_t>& entries() const { return entries_; }
  bool operator==(const VersionVector&) const = default;

 private:
  std::map<SiteId, uint64_t> entries_;
};

std::string siteIdToHex(SiteId id);
std::optional<SiteId> siteIdFromHex(std::string_view hex);

// ---------------------------------------------------------------------------------------------
// Field tables. The names are the schema's (camelCase) and the CLI's (snake_case).

enum class ValueKind {
  kText,    // any UTF-8 without control characters
  kDigits,  // customer number
  kPhone,   // digits, spaces, + - ( ) /
  kEmail,
  kDate,       // YYYY-MM-DD
  kTimestamp,  // ISO 8601 UTC
  kBool,       // true | false
  kGender,     // female | male | other | unknown
  kStatus,     // active | deactivated
  kLanguage,   // 2-3 lowercase letters
  kUnsigned,   // settings: non-negative integer
  kFieldList,  // settings: comma-separated customer field names
  kNote,       // a journal note: UTF-8, several lines (newlines and tabs), up to 16 KB
};

struct FieldInfo {
  uint16_t code;
  const char* schemaName;  // camelCase, as in register.capnp
  const char* cliName;     // snake_case
  ValueKind kind;
  const char* help;
};

#define SITESYNC_CUSTOMER_FIELDS(X)                                                         \
  X(0, number, "number", kDigits, "customer number (digits; automatic when omitted)")       \
  X(1, name, "name", kText, "full name or company name")                                    \
  X(2, phone, "phone", kPhone, "main phone")                                                \
  X(3, phone2, "phone2", kPhone, "second phone")                                            \
  X(4, email, "email", kEmail, "e-mail address")                                            \
  X(5, birthDate, "birth_date", kDate, "date of birth, YYYY-MM-DD")                         \
  X(6, gender, "gender", kGender, "female|male|other|unknown")                              \
  X(7, language, "language", kLanguage, "language code, e.g. fi, sv, en")                   \
  X(8, ssn, "ssn", kText, "social security number")                                         \
  X(9, customerGroup, "customer_group", kText, "customer group")                            \
  X(10, discountLetters, "discount_letters", kText, "discount letters")                     \
  X(11, status, "status", kStatus, "active|deactivated")                                    \
  X(12, invoiceStreet, "invoice_street", kText, "invoice address: street")                  \
  X(13, invoicePostalCode, "invoice_postal_code", kText, "invoice address: postal code")    \
  X(14, invoiceCity, "invoice_city", kText, "invoice address: city")                        \
  X(15, invoiceCountry, "invoice_country", kText, "invoice address: country")               \
  X(16, visitingStreet, "visiting_street", kText, "visiting address: street")               \
  X(17, visitingPostalCode, "visiting_postal_code", kText, "visiting address: postal code") \
  X(18, visitingCity, "visiting_city", kText, "visiting address: city")                     \
  X(19, visitingCountry, "visiting_country", kText, "visiting address: country")            \
  X(20, mailStreet, "mail_street", kText, "mail address: street")                           \
  X(21, mailPostalCode, "mail_postal_code", kText, "mail address: postal code")             \
  X(22, mailCity, "mail_city", kText, "mail address: city")                                 \
  X(23, mailCountry, "mail_country", kText, "mail address: country")                        \
  X(24, newsletter, "newsletter", kBool, "consent to the newsletter: true|false")           \
  X(25, dataProtectionAccepted, "data_protection_accepted", kTimestamp,                     \
    "data-protection consent time, ISO 8601 UTC (e.g. 2026-11-23T10:00:00Z)")               \
  X(26, primaryTherapist, "primary_therapist", kText, "primary therapist (user id)")        \
  X(27, secondaryTherapist, "secondary_therapist", kText, "secondary therapist (user id)")

enum class CustomerField : uint16_t {
#define SITESYNC_ENUM(code, schema, cli, kind, help) schema = code,
  SITESYNC_CUSTOMER_FIELDS(SITESYNC_ENUM)
#undef SITESYNC_ENUM
};
inline constexpr size_t kCustomerFieldCount = 28;
// Field code of a custom field write (FieldWrite::key holds the custom field's name).
inline constexpr uint16_t kCustomFieldCode = 28;
// Field codes of the card's collections (DESIGN.md section 3): every attribute of an element is
// a register of its own, keyed "<element id>/<attribute>", so concurrent edits of one contact's
// phone are a conflict like any field's while elements added at two sites both stay. A discount
// card's usages are write-once registers "<card id>/usage/<usage id>" = "<cents>|<visit>":
// append-only, so two sites spending from one card offline both count.
inline constexpr uint16_t kContactCode = 29;   // name phone email send_service_protocol ...
inline constexpr uint16_t kJournalCode = 30;   // text author at deleted
inline constexpr uint16_t kDiscountCode = 31;  // type value_cents price_paid_cents valid_until
inline constexpr uint16_t kFirstElementCode = kContactCode;
inline constexpr uint16_t kLastElementCode = kDiscountCode;
inline bool isElementCode(uint16_t code) {
  return code >= kFirstElementCode && code <= kLastElementCode;
}
const char* elementKindName(uint16_t code);  // "contact", "journal", "discount"; else nullptr

#define SITESYNC_SETTINGS_FIELDS(X)                                                         \
  X(0, requiredFields, "required_fields", kFieldList, "",                                   \
    "customer fields that must be set, comma-separated (e.g. phone,email)")                 \
  X(1, requirePhoneOrEmail, "require_phone_or_email", kBool, "false",                       \
    "true: every customer needs a phone or an e-mail")                                      \
  X(2, numberMinLength, "number_min_length", kUnsigned, "1", "customer number min length")  \
  X(3, numberMaxLength, "number_max_length", kUnsigned, "12", "customer number max length") \
  X(4, autoNumber, "auto_number", kBool, "true", "number customers automatically")          \
  X(5, nextNumber, "next_number", kUnsigned, "1000", "next automatic customer number")      \
  X(6, ssnShown, "ssn_shown", kBool, "true", "show social security numbers")                \
  X(7, ssnUnique, "ssn_unique", kBool, "false", "refuse a second customer with one SSN")    \
  X(8, journalEditWindowHours, "journal_edit_window_hours", kUnsigned, "24",                \
    "hours a journal entry stays editable")                                                 \
  X(9, journalDeleteWindowHours, "journal_delete_window_hours", kUnsigned, "24",            \
    "hours a journal entry stays deletable")                                                \
  X(10, numberBlockSize, "number_block_size", kUnsigned, "1000",                            \
    "customer numbers the hub leases to a site at a time")                                  \
  X(11, maxClockSkew, "max_clock_skew", kUnsigned, "300",                                   \
    "seconds another site's clock may run ahead of this one's (changes stamped later are "  \
    "set aside)")

enum class SettingsField : uint16_t {
#define SITESYNC_ENUM(code, schema, cli, kind, dflt, help) schema = code,
  SITESYNC_SETTINGS_FIELDS(SITESYNC_ENUM)
#undef SITESYNC_ENUM
};
inline constexpr size_t kSettingsFieldCount = 12;

const std::array<FieldInfo, kCustomerFieldCount>& customerFields();
const std::array<FieldInfo, kSettingsFieldCount>& settingsFields();
const char* settingsDefault(SettingsField field);
// Accepts the snake_case (CLI) or the camelCase (schema) spelling.
std::optional<CustomerField> customerFieldByName(std::string_view name);
std::optional<SettingsField> settingsFieldByName(std::string_view name);
inline const FieldInfo& info(CustomerField f) {
  return customerFields()[size_t(f)];
}
inline const FieldInfo& info(SettingsField f) {
  return settingsFields()[size_t(f)];
}

// ---------------------------------------------------------------------------------------------
// The data model (DESIGN.md section 3) as plain values.

// One value of a register: the write's value, version and seq at its origin (so its change id is
// (version.origin, seq)).
struct Head {
  std::string value;
  Version version;
  uint64_t seq = 0;
  bool operator==(const Head&) const = default;
};

// A multi-value register (DESIGN.md section 6): the heads are the writes no later write has
// replaced. The one with the largest version is shown (`value`, `version`, `seq`); the others
// are concurrent writes kept until someone resolves them: an open conflict.
struct FieldValue {
  std::string value;  // empty: not set
  Version version;    // null: never written
  uint64_t seq = 0;
  std::vector<Head> others;  // largest version first
  // Writes that a write applied here had replaced before they arrived (a batch can overtake
  // another): when one arrives it is not a head. Empty once every change is in.
  std::vector<Version> replacedEarly = {};
  // Concurrent writes of one value are no conflict: nothing is lost whichever is shown.
  bool inConflict() const {
    for (const Head& h : others)
      if (h.value != value) return true;
    return false;
  }
  Head shown() const { return Head{value, version, seq}; }
  bool operator==(const FieldValue&) const = default;
};

enum class Lifecycle : uint8_t { kLive = 0, kDeleted = 1, kMerged = 2, kErased = 3 };

// A register key of a collection element, parsed: "<element>/<attribute>", or for a usage of a
// discount card "<card>/usage/<usage>" (attribute "usage").
struct ElementKey {
  uint16_t code = 0;
  RecordId element;
  std::string attribute;
  RecordId usage;
  std::string toString() const;  // the register key
};
// Nullopt unless `key` is well-formed for `code` (a known attribute of that kind of element).
std::optional<ElementKey> parseElementKey(uint16_t code, std::string_view key);
// The kind of value an attribute holds (a usage's "<cents>|<visit>" is kText).
ValueKind elementValueKind(uint16_t code, std::string_view attribute);

struct Customer {
  RecordId id;
  Lifecycle lifecycle = Lifecycle::kLive;
  RecordId mergedInto;
  Version lifecycleVersion;
  Version created;
  std::array<FieldValue, kCustomerFieldCount> fields;
  std::map<std::string, FieldValue> customFields;  // name -> register, sorted
  // Contacts, journal and discount cards: (field code, "<element>/<attribute>") -> register.
  std::map<std::pair<uint16_t, std::string>, FieldValue> elements;

  FieldValue& operator[](CustomerField f) { return fields[size_t(f)]; }
  const FieldValue& operator[](CustomerField f) const { return fields[size_t(f)]; }
  const std::string& value(CustomerField f) const { return fields[size_t(f)].value; }
  bool isLive() const { return lifecycle == Lifecycle::kLive; }
  bool hasOpenConflicts() const;
  bool operator==(const Customer&) const = default;
};

struct Settings {
  std::array<FieldValue, kSettingsFieldCount> fields;
  // The effective value: the written one, or the default.
  std::string get(SettingsField f) const;
  uint64_t getUnsigned(SettingsField f) const;
  bool getBool(SettingsField f) const;
  bool operator==(const Settings&) const = default;
};

enum class Operation : uint8_t {
  kCreate = 0,
  kUpdate = 1,
  kDelete = 2,
  kRestore = 3,
  kErase = 4,
  kMerge = 5,
  kSettings = 6,
  kJournal = 7,
  kDiscountUsage = 8,
  kLease = 9,  // the hub leases a block of automatic customer numbers to a site
};
const char* operationName(Operation op);

struct FieldWrite {
  uint16_t field = 0;
  std::string key;
  std::string value;
  std::vector<Version> replaces;
  bool operator==(const FieldWrite&) const = default;
};

// A block of automatic customer numbers, first to last inclusive, that the hub leased to one
// site (DESIGN.md section 6). Blocks never overlap: the hub hands them out in ascending order.
struct NumberLease {
  SiteId site = 0;  // 0: none
  uint64_t first = 0;
  uint64_t last = 0;
  Version version;  // the lease change's (unset inside the change itself)
  uint64_t size() const { return last - first + 1; }
  bool holds(uint64_t number) const { return site != 0 && first <= number && number <= last; }
  bool operator==(const NumberLease& o) const = default;
};

struct Change {
  ChangeId id;
  Hlc hlc;
  Operation operation = Operation::kUpdate;
  RecordId target;
  std::string author;
  std::vector<FieldWrite> writes;
  std::vector<RecordId> absorbed;
  std::string signature;
  std::string note;   // why, when a machine made the change (e.g. the hub's renumbering)
  NumberLease lease;  // operation kLease
  // Set once the personal data was erased: what personalDataHash gave before (32 bytes).
  std::string personalHash;
  Version version() const { return Version{hlc, id.origin, id.seq}; }
  bool operator==(const Change&) const = default;
};

// Erasure (the right to be forgotten): blanks the values and the author of a change, keeping
// its id, target and the versions it replaced, so that the log still replicates, and the hash of
// what it blanked, so that the change still verifies against its origin's signature.
void stripPersonalData(Change& change);

// ---------------------------------------------------------------------------------------------
// Authorship (DESIGN.md section 7; docs/protocol.md "Authorship" has the byte layouts).
// A site id is the first 8 bytes (big-endian) of SHA-256 of the site's Ed25519 public key, so a
// change's origin names the one key that may sign it. Each origin signs its changes in runs: the
// last change of a run (a checkpoint) carries the public key, where the run starts, and an
// Ed25519 signature over the SHA-256 of the run's change digests. A change's digest covers every
// field but the signature, with the personal data (author, values) hashed on its own, so that
// an erased change verifies as it did.

using Digest = std::array<uint8_t, 32>;
SiteId siteIdOfKey(std::string_view publicKey);
Digest personalDataHash(const Change& change);  // the stored personalHash once erased
Digest changeDigest(const Change& change);

struct Checkpoint {
  std::string publicKey;  // 32 bytes, Ed25519
  uint64_t runStart = 0;  // the seq of the run's first change
  std::string signature;  // 64 bytes
};
inline constexpr size_t kCheckpointBytes = 32 + 8 + 64;
std::string encodeCheckpoint(const Checkpoint& checkpoint);  // what Change::signature holds
std::optional<Checkpoint> parseCheckpoint(std::string_view bytes);
// What the checkpoint's signature signs: the run of `origin` from runStart to runEnd, whose
// change digests, concatenated in seq order, hash (SHA-256) to `runHash`.
std::string runSigningMessage(SiteId origin, uint64_t runStart, uint64_t runEnd,
                              const Digest& runHash);
Digest sha256(std::string_view bytes);
// What a hello's siteProof signs: the site and the sender's CURVE public key (Z85) together.
std::string helloProofMessage(SiteId site, std::string_view curvePublicKey);

struct FieldChange {
  uint16_t field = 0;
  std::string key;
  std::string oldValue;  // stored only by older versions; derived on read (Engine::history)
  std::string newValue;  // the value the change wrote
  std::vector<Version> replaces = {};  // what the write replaced, as its change names them
  bool operator==(const FieldChange&) const = default;
};

// A conflict a change settled: the value that was shown and the concurrent one beside it.
struct ClosedConflict {
  uint16_t field = 0;
  std::string key;
  Head winner;
  Head loser;
  bool operator==(const ClosedConflict&) const = default;
};

struct HistoryEntry {
  Hlc at;
  SiteId site = 0;
  uint64_t seq = 0;
  std::string author;
  Operation operation = Operation::kUpdate;
  std::vector<FieldChange> changes;
  std::vector<uint16_t> createdFields;
  std::vector<ClosedConflict> closed;
  std::string note;
  // Every write of the change is in `changes` with the value it wrote (entries of this
  // version); without it, an entry of an older store (values as seen where it was applied).
  bool everyWrite = false;
  // `changes` are not stored: they are the writes of the change's log entry (withWritesOf).
  bool valuesInLog = false;
  bool operator==(const HistoryEntry&) const = default;
};
// The entry with the writes of its change (`change`) in `changes`, when it keeps them in the log.
inline HistoryEntry withWritesOf(HistoryEntry entry, const Change& change) {
  if (!entry.valuesInLog) return entry;
  entry.changes.clear();
  for (const FieldWrite& w : change.writes)
    entry.changes.push_back(FieldChange{w.field, w.key, {}, w.value, w.replaces});
  entry.valuesInLog = false;
  return entry;
};

struct Meta {
  SiteId siteId = 0;
  std::string siteName;
  bool isHub = false;
  uint64_t lastSeq = 0;
  Hlc lastHlc;
  uint64_t nextAutoNumber = 0;
  uint32_t formatVersion = 1;
  uint64_t createdAtMillis = 0;
  uint64_t activeCustomers = 0;  // counts by state, kept by the apply path
  uint64_t deactivatedCustomers = 0;
  uint64_t tombstones = 0;
  uint64_t deployment = 0;          // 0: not yet known (adopted from the first peer that has one)
  bool snapshotPending = false;     // a join's snapshot is not complete yet
  VersionVector snapshotVector;     // the snapshot's vector, held until the last chunk is in
  std::string snapshotNextKey;      // where the next chunk starts
  uint64_t droppedForErased = 0;    // changes that arrived for an erased customer (not applied)
  std::string atRestKeyCheck;       // non-empty: sensitive values are sealed (--encrypt)
  std::string signingKey;           // this site's Ed25519 private key (32 bytes), never replicated
  uint64_t unauthorized = 0;        // settings or lease changes from a site other than the hub
  VersionVector revokedSites;       // revoked peers' sites: the seq held when each was revoked
  uint64_t refusedFromRevoked = 0;  // changes of those past that seq, not applied
  std::string offeredSettings;      // encoded Settings this site offered its hub when it joined
  uint64_t settingsOffersKept = 0;  // hub: offered settings kept / refused
  uint64_t settingsOffersRefused = 0;
  bool operator==(const Meta&) const = default;
};

// A peer as this node last saw it (local bookkeeping).
struct PeerState {
  SiteId siteId = 0;
  std::string name;
  std::string endpoint;
  uint64_t lastContactMillis = 0;
  VersionVector vector;
  uint64_t sent = 0;
  uint64_t received = 0;
  bool operator==(const PeerState&) const = default;
};

// A peer on this node's allow list (local bookkeeping; node/ enforces it on every link).
struct AllowedPeer {
  std::string name;
  std::string publicKey;  // CURVE, Z85 (40 characters)
  std::string endpoint;   // where it listens, when this node connects to it; empty otherwise
  uint64_t addedAtMillis = 0;
  SiteId siteId = 0;  // the site that proved the key is its own; 0: not yet
  bool operator==(const AllowedPeer&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Codecs. encode* appends one unpacked Cap'n Proto message to `out` (cleared first); decode*
// copies the bytes into an aligned scratch buffer (LMDB and ZeroMQ data are not 8-byte aligned),
// reads them under traversal/nesting limits, and throws DecodeError on malformed input.

void encode(const Customer& customer, std::string& out);
void encode(const Settings& settings, std::string& out);
void encode(const Change& change, std::string& out);
void encode(const HistoryEntry& entry, std::string& out);
void encode(const Meta& meta, std::string& out);
void encode(const PeerState& peer, std::string& out);
void encode(const AllowedPeer& peer, std::string& out);

Customer decodeCustomer(std::string_view bytes);
Settings decodeSettings(std::string_view bytes);
Change decodeChange(std::string_view bytes);
// Reads only (origin, seq), and whether the change is a checkpoint (carries a signature), from
// the first words of a change as encode() lays it out (bytes of this node's own log: the rest
// of the change is not checked); any other layout is decoded whole.
ChangeId decodeChangeId(std::string_view bytes, bool* checkpoint = nullptr);
HistoryEntry decodeHistoryEntry(std::string_view bytes);
Meta decodeMeta(std::string_view bytes);
PeerState decodePeerState(std::string_view bytes);
AllowedPeer decodeAllowedPeer(std::string_view bytes);

// ---------------------------------------------------------------------------------------------
// Wire messages (protocol/schema/wire.capnp; docs/protocol.md has the sequence).

// The version of the messages below: wire.capnp's protocolVersion, the one place it is set
// (a node answers a hello of another version with error{protocolVersion}).
extern const uint32_t kProtocolVersion;

struct HelloMsg {
  uint32_t protocolVersion = kProtocolVersion;
  SiteId siteId = 0;
  std::string siteName;
  bool isHub = false;
  VersionVector vector;
  uint64_t deployment = 0;     // 0: this node has not joined a deployment yet
  bool stream = false;         // a streaming link: both sides push changes as they come
  uint32_t credit = 0;         // stream: batches the peer may have in flight to the sender
  std::string siteKey = {};    // on CURVE links: the sender's Ed25519 public key ...
  std::string siteProof = {};  // ... and its signature of helloProofMessage
  VersionVector revoked = {};  // revoked sites, and the seq held of each when revoked
};
struct ChangeBatchMsg {
  std::vector<std::string> changes;  // each one encoded Change, as stored
  bool complete = false;
};
struct AckMsg {
  VersionVector vector;
};
struct PullMsg {
  VersionVector vector;
  uint64_t fromPosition = 0;
};
struct PullReplyMsg {
  ChangeBatchMsg batch;
  uint64_t nextPosition = 0;
};
struct HeartbeatMsg {
  VersionVector vector;
};
struct SnapshotRequestMsg {
  std::string afterKey;  // empty: from the first record
  uint32_t maxBytes = 0;
};
struct SnapshotHistoryItem {
  RecordId record;
  std::string entry;  // encoded HistoryEntry
};
struct SnapshotChunkMsg {
  VersionVector vector;  // the responder's vector when it read this chunk
  Hlc lastHlc;           // the responder's clock then
  uint64_t deployment = 0;
  std::string settings;                      // encoded Settings (empty: defaults)
  std::vector<std::string> records;          // encoded Customer, in id order, tombstones included
  std::vector<SnapshotHistoryItem> history;  // the history of those records
  std::vector<NumberLease> leases;           // first chunk only: every number block leased
  std::string nextKey;                       // pass back as afterKey
  bool complete = false;
};
enum class WireError : uint8_t {
  kVersionMismatch = 0,
  kMalformed = 1,
  kCannotApply = 2,
  kNotInitialized = 3,
  kInternal = 4,
  kDeploymentMismatch = 5,  // the peers belong to different deployments
  kNoSession = 6,           // a request before a hello on this connection
  kNeedSnapshot = 7,        // the responder's log no longer holds what the requester lacks
  kNotAllowed = 8,          // the sender's key is not (or no longer) on the allow list
};
struct ErrorMsg {
  WireError code = WireError::kInternal;
  std::string message;
};
using WireMessage = std::variant<HelloMsg, ChangeBatchMsg, AckMsg, PullMsg, PullReplyMsg, ErrorMsg,
                                 HeartbeatMsg, SnapshotRequestMsg, SnapshotChunkMsg>;

void encode(const WireMessage& message, std::string& out);
WireMessage decodeWireMessage(std::string_view bytes);

// Checks a change received from a peer before anything of it is written: ids, clock, a known
// operation, every value against its field's kind, keys, list and text bounds. Throws
// DecodeError naming the change and what is wrong. (Local changes are valid by construction.)
void validateChange(const Change& change);

// A value sealed at rest (sync's FieldCipher): "enc1:<token>:<ciphertext>". Storage indexes an
// SSN by its token; validation allows a sealed journal note its larger size.
inline constexpr std::string_view kSealedPrefix = "enc1:";
inline bool isSealedValue(std::string_view value) {
  return value.substr(0, kSealedPrefix.size()) == kSealedPrefix;
}

// Validation of one value against its kind; returns an empty string when valid, else the reason.
std::string validateValue(ValueKind kind, std::string_view value);
bool isValidUtf8(std::string_view text);

}  // namespace sitesync
