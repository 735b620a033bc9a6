// The store's internals shared by its source files: the tables (their names are part of the
// on-disk format) and the environment that holds them.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/src/lmdb.h"
#include "storage/store.h"

namespace sitesync::storage {

// Table names are part of the on-disk format.
enum Table : size_t {
  kRecords,      // id(16) -> Customer
  kLog,          // position(8) -> Change, in local apply order
  kChangeIndex,  // origin(8) seq(8) -> position(8)
  kVector,       // origin(8) -> seq(8)
  kNumberIndex,  // number \0 id(16) -> ""
  kSsnIndex,     // normalised ssn \0 id(16) -> ""
  // Phones and e-mail addresses (storage::phoneKey, emailKey): a phone's significant digits
  // reversed, so that a number's end (and its national form) is a key prefix, or "@" and the
  // address in lower case.
  kContactIndex,     // contact term \0 id(16) -> ""
  kNameIndex,        // name token -> id(16), sorted duplicates of fixed size (tableFlags)
  kHistory,          // id(16) position(8) -> HistoryEntry
  kMetaTable,        // "meta" -> Meta, "settings" -> Settings
  kPeers,            // site id(8) -> PeerState (local, LocalTables)
  kConflicts,        // id(16) -> "": records with an open conflict (a register with several heads)
  kLeases,           // first number(8) -> site(8) last(8) hlc(8) origin(8) seq(8)
  kPendingNumbers,   // id(16) -> "": live (or merged) customers without a number yet
  kAbsorbed,         // survivor(16) absorbed(16) -> "": merged customers by the one they went into
  kAbsorbedNumbers,  // number \0 id(16) -> "": numbers of merged customers (reserved)
  kAllowed,          // name -> AllowedPeer: the peers this node accepts (local, LocalTables)
  kInbox,            // key(8) -> a peer's batch acknowledged, not yet applied (local, LocalTables)
  // Phone digits are random keys: a commit of a few thousand new customers would rewrite most
  // leaf pages of a large phone index, and so would it most pages of any sorted table that
  // gathered them. A commit with kPhoneRunFrom new entries or more appends them here instead as
  // one sorted run (its number from 1, then the keys in order: written once, in full pages).
  // Smaller commits (live edits) insert theirs into run 0, a small sorted table of its own:
  // a few pages each. All of it goes into kContactIndex in one pass once there are
  // Options::phoneFoldAt entries or kMaxPhoneRuns appended runs.
  kContactRuns,     // run(4) contact term \0 id(16) -> "": entries not yet in kContactIndex
  kDeletedNumbers,  // number \0 id(16) -> "": numbers of deleted customers (restore #NUMBER)
  kLocal,           // kSiteKeyKey, kAllowListKey -> their values (local, LocalTables)
  kTableCount
};
constexpr std::array<const char*, kTableCount> kTableNames = {
    "records",
    "log",
    "change_index",
    "vector",
    "index_number",
    "index_ssn",
    "index_contact",
    "index_name_tokens",
    "history",
    "meta",
    "peers",
    "conflicts",
    "leases",
    "pending_numbers",
    "absorbed",
    "index_absorbed_number",
    "allowed",
    "inbox",
    "index_contact_runs",
    "index_deleted_number",
    "local",
};

static_assert(kTableNames.back() != nullptr, "every table needs a name");

// A name token is shared by many customers (a common surname by tens of thousands): its ids
// are one key's sorted duplicates, 16 bytes each, packed about 250 to a page without a key
// beside each, and one site's new ids append at the end. (As `token \0 id` keys they took 68
// bytes an entry in half-full pages: 157 MB of a 1M-customer hub, now about 37 MB.)
constexpr unsigned tableFlags(Table table) {
  return table == kNameIndex ? MDB_DUPSORT | MDB_DUPFIXED : 0;
}
// The name index of stores written before it held duplicates (keys `token \0 id`): moved into
// kNameIndex when such a store is opened for writing.
constexpr const char* kOldNameIndex = "index_name";
// The phone index of stores written before kContactIndex (keys: the digits as written), its
// runs, and the table of entries not yet folded before runs: dropped when such a store is opened
// for writing (kContactIndex is then filled from the records).
constexpr const char* kOldPhoneTables[] = {"index_phone", "index_phone_runs", "index_phone_recent"};
// A lookup reads the phone index, run 0 and each appended run: a bound on the cursors it opens.
constexpr uint32_t kMaxPhoneRuns = 16;
// A commit with this many new phone entries appends them as a run; fewer go into run 0. A run
// each would reach kMaxPhoneRuns after a few live edits or catch-ups, and the commit that
// reaches it pays the fold (a 1,000-edit catch-up after a 1M bulk took 214 ms instead of ~50).
constexpr size_t kPhoneRunFrom = 4096;

constexpr std::string_view kMetaKey = "meta";
constexpr std::string_view kSettingsKey = "settings";
// kLocal: set once the first peer is allowed, never cleared: from then on only allowed peers
// connect. (In kMetaTable before format 2.)
constexpr std::string_view kAllowListKey = "allow_list_configured";
// kLocal: the site's Ed25519 private key. (Meta's retired signingKey before format 2.)
constexpr std::string_view kSiteKeyKey = "site_key";

// LMDB may resize the map only while no transaction of this process is open (readers hold
// pointers into it): transactions hold this shared, a resize holds it exclusively. Readers are
// preferred, so a thread that opens a second transaction never waits behind a resize.
struct MapGuard {
  std::shared_timed_mutex mutex;
  std::chrono::milliseconds resizeWait{0};
};

// What a write transaction keeps beside LMDB's own state: the phone and name index entries it
// writes at commit (sorted: see Store::commit), and a cursor per table it writes, so that an
// append finds the last page from where the cursor is instead of searching from the root, and
// an insert near the last one finds its page the same way. LMDB frees a write transaction's
// cursors when the transaction ends: commit, abort and ~WriteTxn close them first. Appends
// (MDB_APPEND) to a table must all go through its cursor here: LMDB trusts a cursor that is at
// the end to still be there, and an append through another cursor would leave it wrong.
struct WriteTxn::State {
  struct Op {
    Table table;
    std::string key;
    bool erase;
    uint32_t order;  // keeps a delete and a re-add of one key in their order
  };
  std::vector<Op> deferred;
  std::array<std::optional<lmdb::Cursor>, kTableCount> cursors;
  std::chrono::steady_clock::time_point began = std::chrono::steady_clock::now();
  std::map<SiteId, uint64_t> vectorWrites;  // setVectorEntry, for Store::Impl's vector cache
  void closeCursors() {
    for (auto& c : cursors) c.reset();
  }
};

// The entries a state of a record has in the tables that index records (store_records.cpp).
struct IndexEntry {
  Table table;
  std::string key;
  auto operator<=>(const IndexEntry&) const = default;
};
std::vector<IndexEntry> indexEntries(const Customer& c);
// An index key: `term \0 id(16)`; and such a key as its term and id bytes.
std::string indexKey(std::string_view term, RecordId id);
std::pair<std::string_view, std::string_view> splitIndexKey(std::string_view key);

// Brings a store written by an earlier version up to date, in the transaction that opens it for
// writing: moves old tables into their successors, fills the index tables this open created
// (`added`) from the records, and moves local entries out of meta (storage/src/store_upgrade.cpp).
void upgradeTables(MDB_txn* txn, const std::array<MDB_dbi, kTableCount>& dbi,
                   const std::array<bool, kTableCount>& added);
// A store whose meta record says a format newer than kStoreFormatVersion is refused (StoreError
// naming both), before anything in it is touched.
void refuseNewerFormat(MDB_txn* txn, MDB_dbi metaTable, const std::string& dir);

struct Store::Impl {
  MDB_env* env = nullptr;
  std::array<MDB_dbi, kTableCount> dbi{};
  MapGuard guard;
  uint64_t phoneFoldAt = 0;
  std::mutex timingsMutex;  // guards the three below
  WriteTimings timings;
  std::function<void(double, double)> slowWrite;
  double slowWriteSeconds = 0.1;
  // The vector table as of one committed write (Store::vector): a hub reads it for every batch
  // it applies, and it has an entry per site. This process's commits move it on.
  std::mutex vectorMutex;  // guards the two below
  uint64_t vectorAt = 0;   // ReadTxn::snapshotId it is as of; 0: none
  VersionVector vectorCache;
  ~Impl() {
    if (env) mdb_env_close(env);
  }
};

}  // namespace sitesync::storage
