// Private to sync/: the state every part of Engine shares (the store, the clock, the cipher, the
// background applier) and the write path they all go through: a local operation or a peer's
// change applied to the register in one transaction (ApplyContext), with what follows a commit.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"
#include "sync/engine.h"

namespace sitesync::sync {

struct ApplyContext;  // sync/src/apply_context.h
struct FollowUp;
struct SettingsOffer;

// What an operation on a contact, journal entry, discount card or record writes, as planned.
struct ElementEdit {
  uint16_t kind = 0;  // kContactCode, kJournalCode, kDiscountCode, kRecordCode
  std::string kindName;
  RecordId fresh;  // the id a new element or usage gets (made from the change about to be written)
  RecordId id;     // the element written
  const CardElement* existing = nullptr;  // it, when it is not new
  Operation operation = Operation::kUpdate;
  std::vector<std::pair<std::string, std::string>> writes;  // register key -> value
  RecordId usage;  // a usage of a discount card or a record, when one is added
};

class Core {
 public:
  Core(storage::Store& store, Clock& clock, Engine& engine);
  ~Core();

  OpResult runOp(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op);
  // The edits as they are written: validated as typed, the last assignment of a field winning,
  // sensitive values sealed when a cipher is in use.
  Result<std::vector<Edit>> editsToWrite(const std::vector<Edit>& edits, bool settings) const;
  OpResult runSettingsOp(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op,
                         const std::vector<Edit>& requested);
  // A create, an update, or the machine numbering a customer.
  OpResult runCustomerOp(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op,
                         std::vector<Edit> requested);
  void writeCustomerChange(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op,
                           const Customer* before, std::vector<Edit> edits, OpResult& result);
  // The live customer `id` as its author sees it (merged customers joined), or why not.
  Result<Customer> liveView(const storage::ReadTxn& txn, RecordId id) const;
  // The live customer whose contact, journal entry or card is changed, or why not.
  Result<Customer> elementOwner(const storage::ReadTxn& txn, RecordId id) const;
  // Checks each attribute `op` sets and plans its write into `edit`.
  Status planElementWrites(const Customer& c, const LocalOp& op, const Settings& settings,
                           ElementEdit& edit) const;
  // Shows each record's debtor as the customer it went into when it was merged.
  void followDebtors(const storage::ReadTxn& txn, Customer& shown) const;
  // A record's debtor, when `edits` set one: a live customer other than `owner`.
  Status checkDebtor(const storage::ReadTxn& txn, const Customer& owner,
                     const std::vector<Edit>& edits) const;
  // The survivor, then the customers a merge absorbs (each once), all live; or why not.
  Result<std::vector<Customer>> mergeParties(const storage::ReadTxn& txn, const LocalOp& op) const;
  // The customer a delete, restore, erase or resolution is about (merged or erased: why not).
  Result<Customer> recordOpTarget(const storage::ReadTxn& txn, RecordId id) const;
  // The write that settles a field's conflict with the value chosen.
  Result<FieldWrite> resolutionWrite(const Customer& c, const LocalOp& op) const;
  OpResult runRecordOp(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op);
  OpResult runMerge(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op);
  OpResult runElementOp(storage::WriteTxn& txn, ApplyContext& batch, const LocalOp& op);
  // Applies a local change to a customer, whose writes reach every customer merged into it
  // (the author saw their registers joined into it), and notes it in `result`.
  void commitToCustomer(storage::WriteTxn& txn, ApplyContext& batch, Change& change,
                        OpResult& result);
  // What a customer shows: its registers joined with those of every customer merged into it
  // (their concurrent writes stay beside the merge's as conflicts), records' debtors followed.
  Customer view(const storage::ReadTxn& txn, Customer record) const;
  // Every customer merged into `id`, directly or through a chain.
  std::vector<RecordId> absorbedSet(const storage::ReadTxn& txn, RecordId id) const;
  // The customer `id` ends in: itself, or the last survivor of the merges it went into.
  // Concurrent merges that form a cycle (A into B here, B into A there) leave every customer of
  // it stored as merged; the one absorbed by the cycle's newest merge is read as the survivor
  // (a function of the replicated state, so every node reads the same one).
  RecordId survivorOf(const storage::ReadTxn& txn, RecordId id) const;
  // A filtered site, once a filtered snapshot is in: removes the customers its filter no longer
  // wants and no own change after `ownHeldByPeer` touches. Returns how many left.
  size_t keepOnlyWanted(storage::WriteTxn& txn, ApplyContext& batch, uint64_t ownHeldByPeer);
  // A change's writes reach the customers merged into its target too; a merge makes them
  // tombstones pointing to the target, and an erase erases them.
  // Returns whether the customer was there to reach (not erased).
  bool applyToAbsorbed(storage::WriteTxn& txn, ApplyContext& batch, const Change& change,
                       RecordId id);
  bool applyToAbsorbedOf(storage::WriteTxn& txn, ApplyContext& batch, const Change& change);
  // What a customer change reached: its target, only customers merged into its (erased)
  // target, or nothing (dropped: its target is erased).
  enum class Reached { kTarget, kAbsorbedOnly, kNothing };
  Reached applyToCustomer(storage::WriteTxn& txn, ApplyContext& batch, const Change& change,
                          HistoryEntry& history);
  // A change that names an erased customer: a concurrent erase is noted, a change that reaches
  // customers merged into it applies to them, anything else is dropped (and counted).
  Reached applyToErased(storage::WriteTxn& txn, ApplyContext& batch, const Change& change,
                        const Customer& erased);
  // After a customer changed: the hub notes number claims and the blocks sites need; a site
  // notes its own customers that wait for a number.
  void noteNumbering(const storage::ReadTxn& txn, ApplyContext& batch, const Change& change,
                     const Customer* before, const Customer& after) const;
  // A merge's entry in the history of each customer it absorbed (at the merge's log position).
  void noteMergedAway(storage::WriteTxn& txn, const ApplyContext& batch, const Change& change,
                      uint64_t position);
  // A change the snapshot's chunks may hold already (Meta::snapshotReadUpTo) that record `id`'s
  // history lists: its writes are in the record, which came whole after it.
  bool reflectedInRecord(const storage::ReadTxn& txn, const ApplyContext& batch,
                         const Change& change, RecordId id) const;
  // `edits`: what the operation writes; required fields bind a create and the fields it writes.
  Status validateCustomer(const storage::ReadTxn& txn, const ApplyContext& batch,
                          const Customer& after, const Customer* before,
                          const std::vector<Edit>& edits, bool machineNumbered) const;
  // The next automatic number: from the site's leased blocks (the hub leases itself one when
  // it runs out), or from next_number at a standalone site. Empty: none left, number pending.
  Result<std::string> nextAutoNumber(storage::WriteTxn& txn, ApplyContext& batch);
  void applyLease(storage::WriteTxn& txn, ApplyContext& batch, const Change& change);
  // Hub: notes the blocks a site needs: one of its customers waits for a number, or its
  // create used its newest block.
  void noteNumberUse(const storage::ReadTxn& txn, ApplyContext& batch, const Change& change,
                     const Customer* before, const Customer& after) const;
  // Hub: makes a lease change for `site` within `txn`.
  NumberLease issueLease(storage::WriteTxn& txn, ApplyContext& batch, SiteId site);
  // What a committed transaction left to do (renumbering, leases, pending numbers, settings
  // offered to the hub); returns whether it wrote anything. `decided`: what became of offers.
  bool followUp(const FollowUp& work, std::string* decided = nullptr);
  // Hub: keeps each offered setting the deployment has no value for (a settings change of its
  // own, in one transaction), refuses the others; returns what it did, for people.
  std::string decideSettingsOffers(const std::vector<SettingsOffer>& offers);
  // A change of this site's, stamped with its next seq and clock. Throws Error while the site
  // is restored from a backup and has not caught up with its own changes (restoredRefusal).
  Change makeChange(ApplyContext& batch, Operation op, RecordId target,
                    const std::string& author) const;
  // The write half of applyBatch: the decoded, verified changes in one transaction, which also
  // takes the batch out of the inbox when it was staged there (`inboxKey`).
  BatchReport writeBatch(const std::vector<Change>& changes,
                         const std::vector<std::string>& encodedChanges,
                         const std::vector<bool>& proven, std::optional<uint64_t> inboxKey);
  // A clean batch of a peer staged in the inbox and acknowledged (onStaged) before it is
  // applied on the applier's thread; written at once instead when the staged batch before it
  // failed or it names a customer this node does not hold yet.
  BatchReport stageAndAcknowledge(std::vector<Change> changes,
                                  const std::vector<std::string>& encodedChanges,
                                  const std::vector<bool>& proven, const VerifiedBatch& verified,
                                  const VersionVector& held,
                                  const std::function<void(const VersionVector&)>& onStaged,
                                  std::string_view asReceived);
  // The write of a staged batch (on the applier's thread): a batch that cannot apply is set
  // aside in the inbox; a write that fails leaves it waiting there.
  void writeStaged(const std::vector<Change>& batch, const std::vector<std::string>& bytes,
                   uint64_t inboxKey);
  // Applies a staged batch on the applier's thread; `adds` is what it adds to the vector.
  void applyInBackground(std::vector<Change> changes, std::vector<std::string> encoded,
                         uint64_t inboxKey, const VersionVector& adds);
  // Whether the applier's thread is writing a staged batch now (it then uses a core).
  bool applierWriting() const;
  // Applies the inbox's waiting batches in order (applyStagedBatches without settling first),
  // and the ones set aside too when `alsoSetAside`.
  size_t applyWaitingBatches(bool alsoSetAside);
  // Whether a batch starting where `batch` starts was set aside before (it is not staged again:
  // applied at once, it is refused with its reason instead).
  bool setAsideBefore(const VerifiedBatch& batch) const;
  // Remembers, per origin, the first seq of a batch set aside (see setAsideBefore).
  void noteSetAside(const VersionVector& firstSeqs);
  // Keeps a batch in the inbox, set aside with `reason`, unless a batch starting where it
  // starts is set aside already (then false).
  bool setAsideOnce(const std::vector<std::string>& encodedChanges, const std::string& reason);
  // Whether every customer a batch's changes name is in the register or created before it in
  // the batch: what a clean batch needs to apply whole (a change for a customer this node has
  // not seen yet cannot be applied, and its batch must not be acknowledged early).
  bool customersNamedAreKnown(const std::vector<Change>& changes) const;
  // Commits a batch (one encoded ChangeBatch message) to the inbox; returns its key there.
  uint64_t stageBatch(std::string_view encodedBatch);
  // Marks a staged batch that cannot apply as set aside, with `reason`.
  void setAside(uint64_t inboxKey, const std::string& reason);
  // A settings change: the hub's applies; another site's is an offer at the hub, nothing
  // elsewhere.
  void applySettings(ApplyContext& batch, const Change& change);
  // The applied change's log entry, history entry (when it touched its customer), vector and
  // local run.
  void logApplied(storage::WriteTxn& txn, ApplyContext& batch, const Change& change,
                  std::string_view encoded, bool local, const HistoryEntry* history);
  // `encoded`: the change's bytes as received (stored as they are), or empty to encode it here.
  void applyIn(storage::WriteTxn& txn, ApplyContext& batch, const Change& change,
               std::string_view encoded = {});

  // What the user may see: sealed values opened (no cipher: as stored).
  Customer revealed(Customer c) const;
  std::string revealed(uint16_t field, const std::string& key, const std::string& value) const;
  std::vector<ConflictInfo> revealed(std::vector<ConflictInfo> conflicts) const;
  HistoryEntry revealed(HistoryEntry entry) const;
  // The entry with its change's writes, read from the log when it keeps them there.
  HistoryEntry withWrites(const storage::ReadTxn& txn, HistoryEntry entry) const;

  // Signs the run of local changes this transaction wrote (a checkpoint on its last change).
  void sealLocalRun(storage::WriteTxn& txn, ApplyContext& batch);
  // Throws ClockSkewError for a peer's change stamped more than max_clock_skew ahead of now.
  void refuseClockSkew(const ApplyContext& batch, const Change& change) const;
  // Whether a change of a peer's batch is stamped more than max_clock_skew ahead of now.
  bool stampedTooFarAhead(const std::vector<Change>& changes) const;
  // Writes a batch, or sets it aside in the inbox when a change of it is stamped too far ahead
  // (a batch set aside before is refused instead: its sender is told why).
  BatchReport writeOrSetAside(const std::vector<Change>& changes,
                              const std::vector<std::string>& encodedChanges,
                              const std::vector<bool>& proven);
  // Ends a transaction's apply: seals the local run, writes meta, settings and vector back.
  void finish(storage::WriteTxn& txn, ApplyContext& batch);
  // Whether a settings or lease change comes from the deployment's hub (or, before this site
  // has a deployment, from itself).
  static bool fromAuthority(const Meta& meta, SiteId origin);
  // "'<name>', site <hex>": the hub by the name it gave (a session or the allow list), if known.
  std::string hubName(const storage::ReadTxn& txn, SiteId hub) const;

  storage::Store& store_;
  Clock& clock_;
  Engine& engine_;  // the parts' public operations, for what the write path calls of them
  const FieldCipher* cipher_ = nullptr;
  bool skipSignatureChecks_ = false;
  size_t stageFrom_ = Replication::kStageFrom;
  std::function<void()> localCommitListener_;
  struct Applier;  // the background write of a staged batch (sync/src/inbox.cpp)
  std::unique_ptr<Applier> applier_;
};

}  // namespace sitesync::sync
