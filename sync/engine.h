// sync: the register's logic as deterministic code over a Store. Local operations (create, edit,
// deactivate, settings) are validated against the deployment settings, turned into changes
// stamped with the site's next seq and a hybrid logical clock, and applied through the same path
// that will apply changes from peers: record + log entry + indexes + history + vector + meta in
// one write transaction. Time comes from an injected Clock; nothing here touches the network.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"
#include "storage/store.h"
#include "sync/clock.h"
#include "sync/errors.h"
#include "sync/keys.h"
#include "sync/operations.h"
#include "sync/reports.h"

namespace sitesync::sync {

struct SettingsOffer;  // sync/src/batch.h

class Engine {
 public:
  Engine(storage::Store& store, Clock& clock);
  ~Engine();  // waits for a staged batch still being applied
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // At-rest encryption: from now on sensitive values this engine writes are sealed, and the
  // reads below (customer, list, search, history, conflicts) open them. `cipher` must outlive
  // the engine. Refused (kFailedPrecondition) when the store was sealed under another key, or
  // is not encrypted. initializeEncryption marks a fresh site's store as encrypted.
  Status useCipher(const FieldCipher* cipher);
  Status initializeEncryption(const FieldCipher& cipher);
  bool encrypted() const;  // the store was made with --encrypt

  // Makes a fresh store the site `key` names. Fails if it already is one. `deployment`: the
  // deployment id, which is its hub's site id (the one site whose settings and number leases
  // every site accepts); a hub's is its own; 0 for a site that adopts it from its first peer.
  static Status initialize(storage::Store& store, Clock& clock, const SiteKey& key,
                           const std::string& siteName, bool isHub, uint64_t deployment = 0);
  // Whether the store has been initialised (holds a site).
  static bool isInitialized(const storage::Store& store);

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

  // Open conflicts, and with `includeResolved` the ones resolved, with how.
  std::vector<ConflictInfo> conflicts(bool includeResolved) const;
  // Settles a conflict by its id: `take` a value, or keep the winner (nullopt). A field or
  // delete conflict is closed on every node by the write this makes; a number conflict gives the
  // loser `take` (or the next free number); an SSN conflict needs `take` (the corrected SSN).
  Result<Customer> resolveConflict(std::string_view conflictId,
                                   const std::optional<std::string>& take,
                                   const std::string& author);
  // Merges `absorbed` into `survivor` (DESIGN.md section 6): `take` picks, per field, the
  // customer whose value the survivor keeps (default: its own, else the first absorbed one's
  // that is set). The absorbed become tombstones pointing to the survivor; their history, and
  // changes made to them later elsewhere, show on the survivor.
  Result<Customer> merge(RecordId survivor, const std::vector<RecordId>& absorbed,
                         const std::vector<std::pair<Edit, RecordId>>& take,
                         const std::string& author);
  // --- the card's collections: contacts, journal entries, discount cards (DESIGN.md 3, 6)
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

  // Derived flags: "duplicate_number", "possible_duplicate", "in_conflict", "discount_overdrawn"
  std::vector<std::string> flags(const Customer& customer) const;
  // Hub only: gives every live customer that lost its number to another (smaller version)
  // claim the next free number, with an ordinary change whose history says why. Returns how
  // many were renumbered. Run by applyBatch at the hub for the customers a batch numbered.
  size_t renumberDuplicates(const std::vector<RecordId>& touched);

  // --- automatic customer numbers (DESIGN.md section 6)
  // Hub only, run when a site says hello: leases `site` two blocks of number_block_size numbers
  // if it holds none, one more if fewer than a quarter of a block are left in its blocks (as far
  // as the hub has seen it number). Nothing for a site that has neither sent a change of its own
  // nor proved a key on the allow list: a hello alone changes nothing. Later blocks also follow
  // as the hub sees the site number from the last quarter of its newest block. Returns how many
  // blocks were leased.
  size_t ensureLeases(SiteId site);
  // Gives this site's customers that wait for a number one from its blocks. Returns how many.
  size_t fillPendingNumbers();
  NumbersReport numbers() const;

  // Group commit: every op in one write transaction (one fsync). Each op succeeds or is refused
  // on its own; a refused op writes nothing.
  std::vector<OpResult> submit(const std::vector<LocalOp>& ops);
  // Called, on the committing thread, after submit commits local changes: a node serving this
  // engine pushes them at once (changes committed by other processes it notices by polling).
  // Set it before other threads use the engine; an empty function removes it.
  void onLocalCommit(std::function<void()> listener) { localCommitListener_ = std::move(listener); }

  // --- replication (the transport lives in node/; this is the part that needs no network)
  // The first log position holding a change that `peer` lacks (one index lookup per origin, so
  // catch-up costs what it sends, not the register size); past the end when it lacks nothing.
  uint64_t firstPositionMissingFrom(const VersionVector& peer) const;
  // The changes `peer` lacks from `fromPosition` on, in log order, at most `maxChanges` and about
  // `maxBytes` (at least one change when any is missing).
  OutgoingBatch changesMissingFrom(const VersionVector& peer, uint64_t fromPosition,
                                   size_t maxChanges, size_t maxBytes) const;
  // Applies a peer's batch in one write transaction (one fsync). Changes already held are
  // skipped. Each origin's changes apply in whole signed runs: a run whose checkpoint is not in
  // the batch waits (BatchReport::awaitingSignature). A malformed or out-of-order change, or a
  // run whose signature does not verify (altered, forged, or signed by a key that is not its
  // origin's), throws DecodeError and leaves the store as it was.
  // `onVerified`, when given, is called once the batch is decoded and verified, before anything
  // is written.
  // `onStaged`, when given, lets a clean batch of kStageFrom changes or more be acknowledged
  // before it is applied: it is written to the inbox first (a short sequential write and
  // fsync), `onStaged` gets the vector this node holds with it, and it is applied on a
  // background thread in its own transaction, which also takes it out of the inbox. The next
  // batch is decoded and verified meanwhile and written after it (settleStaged). A staged batch
  // that then cannot apply is set aside in the inbox with its reason (logged, and shown by
  // inboxState), never dropped: its sender may forget it once acknowledged.
  // `asReceived`, when given, is the batch's ChangeBatch message as it came: it is staged as it
  // is, instead of encoded (and compressed) again.
  BatchReport applyBatch(const std::vector<std::string>& encodedChanges,
                         const std::function<void(const VerifiedBatch&)>& onVerified = {},
                         const std::function<void(const VersionVector&)>& onStaged = {},
                         std::string_view asReceived = {});
  // Below this a batch commits in about a millisecond anyway: staging would only add an fsync.
  static constexpr size_t kStageFrom = 256;
  // Stages batches from `changes` changes on (the simulation stages every one).
  void stageBatchesFrom(size_t changes) { stageFrom_ = changes; }
  // Applies the batches a crash (or a failed write) left staged in the inbox, in the order they
  // came, and tries again those set aside; returns how many were applied. A node runs it before
  // it serves.
  size_t applyStagedBatches();
  // Waits until the staged batch being applied in the background (if any) is written. Returns
  // what went wrong with it, if anything (a batch that cannot apply is set aside; one whose
  // write failed waits in the inbox and is tried again here).
  std::string settleStaged();
  // This node's vector with what its staged batches add: what it holds durably. Hellos and
  // heartbeats say this; status().vector is what the register shows now.
  VersionVector heldVector() const;
  // Whether a staged batch still being applied holds changes that `peer` lacks (a pull by that
  // peer should wait for it).
  bool stagedBeyond(const VersionVector& peer) const;
  // Staged batches waiting to be applied, and those set aside (with why they could not apply).
  struct InboxState {
    size_t waiting = 0;
    std::vector<std::string> setAside;
  };
  InboxState inboxState() const;
  // Every entry of the inbox, in arrival order (`sitesync inbox list`).
  struct InboxEntry {
    uint64_t key = 0;
    size_t changes = 0;
    bool setAside = false;
    std::string reason;  // why a batch set aside could not apply
  };
  std::vector<InboxEntry> inboxEntries() const;
  // Removes a batch set aside in the inbox (`sitesync inbox drop`). This node's vector never
  // counted its changes, so a peer that holds them sends them again. A batch still waiting to be
  // applied is not dropped.
  Status dropSetAside(uint64_t key);

  // Records a session with a peer: its name, where it was reached (empty when it connected
  // here), its vector, and the changes that moved; the time comes from this engine's clock.
  void notePeerSession(SiteId peer, const std::string& name, const std::string& endpoint,
                       const VersionVector& vector, uint64_t sent, uint64_t received);
  std::vector<PeerState> peers() const;

  // --- the allow list (DESIGN.md section 7): kept here, enforced on every link by node/
  // Adds a peer or replaces the one of that name; no two peers share a key.
  Status allowPeer(const AllowedPeer& peer);
  // Revoking a peer whose site is known (it proved its key in a hello) also revokes the site:
  // none of its changes past those this node holds now is applied here, whoever relays them.
  // Returns the site revoked with it (0: none known); kNotFound: no such peer.
  Result<SiteId> revokePeer(const std::string& name);
  std::vector<AllowedPeer> allowedPeers() const;
  // A hello's proof that this site and the link key `curvePublicKey` (Z85) belong together.
  void proveIdentity(HelloMsg& hello, const std::string& curvePublicKey) const;
  // Checks the proof in a peer's hello against the key its link proved, and notes on the allow
  // list the site that key belongs to. Refused (kFailedPrecondition, saying why) when the proof
  // is missing or does not hold.
  Status acceptIdentity(const HelloMsg& hello, const std::string& curvePublicKey);
  // Whether a peer was ever allowed: until then links are not encrypted (a new, unconfigured
  // node); from then on only allowed keys connect, even once every peer has been removed.
  bool allowListConfigured() const;

  // --- deployment: sites of different deployments never exchange changes
  // Checks a peer's deployment id against this node's, adopting it when this node has none
  // yet (0). Refused with a message naming both when they differ.
  Status acceptDeployment(uint64_t peerDeployment, const std::string& peerName);
  // The last position of the local log (0: empty); one cheap read, for polling.
  uint64_t logEnd() const;
  // Whether this node's log still holds every change `peer` lacks. False when some were
  // compacted away (or this node itself came from a snapshot): the peer needs a snapshot.
  bool logReaches(const VersionVector& peer) const;

  // --- snapshots (bootstrap of a new node, or of one too far behind for its peers' logs)
  // The records after `afterKey` (empty: from the first), tombstones included, with their
  // history, up to about `maxBytes`; with this node's vector, clock, settings and deployment.
  SnapshotChunkMsg snapshotChunk(std::string_view afterKey, size_t maxBytes) const;
  // Merges a chunk into this store, empty or not, in one write transaction: each record field
  // by field under the version rule (nothing this node holds is lost), settings likewise,
  // history entries once. The first chunk's vector is held until the last chunk is in, then
  // joined into this node's vector, so an interrupted bootstrap claims nothing; it resumes
  // from Meta::snapshotNextKey.
  void mergeSnapshotChunk(const SnapshotChunkMsg& chunk);

  // --- log compaction (DESIGN.md section 5)
  // Removes the oldest log entries that every registered peer (the peers table) holds; the
  // state they produced stays. Nothing goes while no peer is registered. Returns the count.
  uint64_t compactLog();

  // --- reads
  std::optional<Customer> customer(RecordId id) const;
  // REF: an id ("<site hex>-<counter>") or "#NUMBER": the live customer with that number, else
  // the survivor of the merged one that had it, else the deleted one that had it (to restore).
  Result<RecordId> resolve(std::string_view ref) const;
  std::vector<Customer> list(bool includeDeactivated) const;
  std::vector<Customer> search(std::string_view query, size_t limit) const;
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
  Settings settings() const;
  // What this site offered the hub when it joined (empty: nothing), in field order.
  std::vector<OfferedSetting> offeredSettings() const;
  Meta meta() const;
  RegisterStatus status() const;
  // SHA-256 over the canonical replicated state (records incl. tombstones, settings, number
  // leases), hex.
  std::string digestHex() const;

 private:
  friend class EngineTestAccess;  // defined only by tests and benchmarks
  struct Batch;
  struct FollowUp;
  OpResult runOp(storage::WriteTxn& txn, Batch& batch, const LocalOp& op);
  OpResult runRecordOp(storage::WriteTxn& txn, Batch& batch, const LocalOp& op);
  OpResult runMerge(storage::WriteTxn& txn, Batch& batch, const LocalOp& op);
  OpResult runElementOp(storage::WriteTxn& txn, Batch& batch, const LocalOp& op);
  // Applies a local change to a customer, whose writes reach every customer merged into it
  // (the author saw their registers joined into it), and notes it in `result`.
  void commitToCustomer(storage::WriteTxn& txn, Batch& batch, Change& change, OpResult& result);
  // What a customer shows: its registers joined with those of every customer merged into it
  // (their concurrent writes stay beside the merge's as conflicts).
  Customer view(const storage::ReadTxn& txn, Customer record) const;
  // Every customer merged into `id`, directly or through a chain.
  std::vector<RecordId> absorbedSet(const storage::ReadTxn& txn, RecordId id) const;
  // The customer `id` ends in: itself, or the last survivor of the merges it went into.
  // Concurrent merges that form a cycle (A into B here, B into A there) leave every customer of
  // it stored as merged; the one absorbed by the cycle's newest merge is read as the survivor
  // (a function of the replicated state, so every node reads the same one).
  RecordId survivorOf(const storage::ReadTxn& txn, RecordId id) const;
  // A change's writes reach the customers merged into its target too; a merge makes them
  // tombstones pointing to the target, and an erase erases them.
  // Returns whether the customer was there to reach (not erased).
  bool applyToAbsorbed(storage::WriteTxn& txn, Batch& batch, const Change& change, RecordId id);
  bool applyToAbsorbedOf(storage::WriteTxn& txn, Batch& batch, const Change& change);
  // What a customer change reached: its target, only customers merged into its (erased)
  // target, or nothing (dropped: its target is erased).
  enum class Reached { kTarget, kAbsorbedOnly, kNothing };
  Reached applyToCustomer(storage::WriteTxn& txn, Batch& batch, const Change& change,
                          HistoryEntry& history);
  // A merge's entry in the history of each customer it absorbed (at the merge's log position).
  void noteMergedAway(storage::WriteTxn& txn, const Change& change, uint64_t position);
  // `edits`: what the operation writes; required fields bind a create and the fields it writes.
  Status validateCustomer(const storage::ReadTxn& txn, const Batch& batch, const Customer& after,
                          const Customer* before, const std::vector<Edit>& edits,
                          bool machineNumbered) const;
  // The next automatic number: from the site's leased blocks (the hub leases itself one when
  // it runs out), or from next_number at a standalone site. Empty: none left, number pending.
  Result<std::string> nextAutoNumber(storage::WriteTxn& txn, Batch& batch);
  void applyLease(storage::WriteTxn& txn, Batch& batch, const Change& change);
  // Hub: notes the blocks a site needs: one of its customers waits for a number, or its
  // create used its newest block.
  void noteNumberUse(const storage::ReadTxn& txn, Batch& batch, const Change& change,
                     const Customer* before, const Customer& after) const;
  // Hub: makes a lease change for `site` within `txn`.
  NumberLease issueLease(storage::WriteTxn& txn, Batch& batch, SiteId site);
  // What a committed transaction left to do (renumbering, leases, pending numbers, settings
  // offered to the hub); returns whether it wrote anything. `decided`: what became of offers.
  bool followUp(const FollowUp& work, std::string* decided = nullptr);
  // Hub: keeps each offered setting the deployment has no value for (a settings change of its
  // own, in one transaction), refuses the others; returns what it did, for people.
  std::string decideSettingsOffers(const std::vector<SettingsOffer>& offers);
  Change makeChange(Batch& batch, Operation op, RecordId target, const std::string& author) const;
  // The write half of applyBatch: the decoded, verified changes in one transaction, which also
  // takes the batch out of the inbox when it was staged there (`inboxKey`).
  BatchReport writeBatch(const std::vector<Change>& changes,
                         const std::vector<std::string>& encodedChanges,
                         const std::vector<bool>& proven, std::optional<uint64_t> inboxKey);
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
  // Whether every customer a batch's changes name is in the register or created before it in
  // the batch: what a clean batch needs to apply whole (a change for a customer this node has
  // not seen yet cannot be applied, and its batch must not be acknowledged early).
  bool customersNamedAreKnown(const std::vector<Change>& changes) const;
  // Commits a batch (one encoded ChangeBatch message) to the inbox; returns its key there.
  uint64_t stageBatch(std::string_view encodedBatch);
  // Marks a staged batch that cannot apply as set aside, with `reason`.
  void setAside(uint64_t inboxKey, const std::string& reason);
  // `encoded`: the change's bytes as received (stored as they are), or empty to encode it here.
  void applyIn(storage::WriteTxn& txn, Batch& batch, const Change& change,
               std::string_view encoded = {});

  // What the user may see: sealed values opened (no cipher: as stored).
  Customer revealed(Customer c) const;
  std::string revealed(uint16_t field, const std::string& key, const std::string& value) const;
  std::vector<ConflictInfo> revealed(std::vector<ConflictInfo> conflicts) const;
  HistoryEntry revealed(HistoryEntry entry) const;
  // The entry with its change's writes, read from the log when it keeps them there.
  HistoryEntry withWrites(const storage::ReadTxn& txn, HistoryEntry entry) const;

  // Signs the run of local changes this transaction wrote (a checkpoint on its last change).
  void sealLocalRun(storage::WriteTxn& txn, Batch& batch);
  // Throws ClockSkewError for a peer's change stamped more than max_clock_skew ahead of now.
  void refuseClockSkew(const Batch& batch, const Change& change) const;
  // Whether a change of a peer's batch is stamped more than max_clock_skew ahead of now.
  bool stampedTooFarAhead(const std::vector<Change>& changes) const;
  // Writes a batch, or sets it aside in the inbox when a change of it is stamped too far ahead
  // (a batch set aside before is refused instead: its sender is told why).
  BatchReport writeOrSetAside(const std::vector<Change>& changes,
                              const std::vector<std::string>& encodedChanges,
                              const std::vector<bool>& proven);
  // Ends a transaction's apply: seals the local run, writes meta, settings and vector back.
  void finish(storage::WriteTxn& txn, Batch& batch);
  // Whether a settings or lease change comes from the deployment's hub (or, before this site
  // has a deployment, from itself).
  static bool fromAuthority(const Meta& meta, SiteId origin);
  // "'<name>', site <hex>": the hub by the name it gave (a session or the allow list), if known.
  std::string hubName(const storage::ReadTxn& txn, SiteId hub) const;

  storage::Store& store_;
  Clock& clock_;
  const FieldCipher* cipher_ = nullptr;
  // Apply without checking signatures: set only through EngineTestAccess, which only tests and
  // benchmarks include (sync/testing/engine_test_access.h); never on a real node.
  bool skipSignatureChecks_ = false;
  size_t stageFrom_ = kStageFrom;
  std::function<void()> localCommitListener_;
  struct Applier;  // the background write of a staged batch (sync/src/inbox.cpp)
  std::unique_ptr<Applier> applier_;
};

}  // namespace sitesync::sync
