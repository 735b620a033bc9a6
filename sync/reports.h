// What the engine reports: batches planned for and received from a peer, conflicts, numbering,
// the register's state, and what became of settings offered to the hub.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/local_state.h"
#include "protocol/model.h"

namespace sitesync::sync {

// Replication planning: a run of this node's log that a peer lacks, as stored (encoded) bytes.
struct OutgoingBatch {
  std::vector<std::string> changes;  // in this node's log order (a causal order)
  uint64_t nextPosition = 0;         // where the following batch starts
  bool complete = false;             // the log held nothing more the peer lacks
  VersionVector last;                // per origin, the highest seq in the batch
};

// A peer's batch once decoded and verified, before it is written (Replication::applyBatch's
// `onVerified`): a relay may pass a clean batch on to its other peers while it writes it.
struct VerifiedBatch {
  // Every change is one this node lacks and will apply: its run is proven, its site is not
  // revoked, and each origin's seqs follow on from what this node holds with no gap.
  bool clean = false;
  VersionVector first;  // per origin, the lowest seq in the batch
  VersionVector last;   // per origin, the highest
};

// How far a filtered site's own changes can go to a peer (Replication::ownReach).
struct OwnReach {
  uint64_t lastSeq = 0;  // the last of its own changes the peer can take (whole signed runs)
  RecordId waitsFor;     // the customer the next one names and the peer lacks; null: none waits
};

// What one session with a peer moved, for its record (Replication::notePeerSessions).
struct PeerNote {
  SiteId peer = 0;
  std::string name;
  std::string endpoint;  // where it was reached; empty when it connected here
  VersionVector vector;
  uint64_t sent = 0, received = 0;
};

struct BatchReport {
  size_t applied = 0;
  size_t duplicates = 0;         // already held: re-sending is harmless
  VersionVector vector;          // this node's vector after the batch
  VersionVector carried;         // per origin, the highest seq in the batch: what its sender holds
  size_t awaitingSignature = 0;  // changes not applied: their run's checkpoint was not in it
  size_t fromRevoked = 0;        // changes not applied: their site was revoked here
  bool staged = false;           // acknowledged early (onStaged), written in the background
  // What went wrong with the staged batch written before this one: it could not apply (it is
  // set aside in the inbox) or its write failed (it waits there and was tried again).
  std::string stagedError;
  // The batch committed, but the work it called for (the hub's renumbering or leases, pending
  // numbers) failed: why. It is retried with the next batch that calls for it.
  std::string followUpError;
  // Not applied: set aside in the inbox (a change stamped too far ahead of this node's clock).
  std::string setAside;
  // Hub: settings a site offered (set before it joined) and what the hub made of them.
  std::string settingsDecided;
};

// An open or resolved conflict (DESIGN.md section 6). kField: two concurrent writes of one field;
// kDelete: an edit concurrent with a delete; kNumber: two live customers claim one number (the
// smaller version keeps it, the hub renumbers the loser); kSsn: two live customers share a
// social security number while ssn_unique is on (never merged by the machine).
enum class ConflictKind { kField, kNumber, kSsn, kDelete };
const char* conflictKindName(ConflictKind kind);

struct ConflictInfo {
  std::string id;  // the same on every node: a hash of the customer, field and losing write
  ConflictKind kind = ConflictKind::kField;
  RecordId customer;  // kNumber: the customer that loses the number
  uint16_t field = 0;
  std::string key;
  Head winner;
  Head loser;
  RecordId other;  // kNumber, kSsn: the other customer
  bool resolved = false;
  HistoryEntry resolution;  // when resolved: the change that closed it
  std::string chosen;       // when resolved: the value it kept
};

// Two live customers that are likely one person (Reads::possibleDuplicates): a score from 0 to 1
// and what points that way, e.g. "same phone", "same name and birth date".
struct DuplicatePair {
  RecordId first, second;  // first < second
  double score = 0;
  std::vector<std::string> reasons;
};

// A customer assigned to a technician (Reads::assignmentsOf): the technician's notification of
// it, with when, where and by whom it was assigned.
struct Assignment {
  RecordId customer;
  std::string name;    // the customer's, as shown
  std::string number;  // the customer's, as shown
  Hlc at;              // the assigning change's clock
  SiteId site = 0;     // the site it was made at
  std::string by;      // its author
};

// What one logged change did to the conflict list where it was applied (Conflicts::movedBy).
struct ConflictMoves {
  std::vector<ConflictInfo> opened;    // open now, and this change came after the other write
  std::vector<ConflictInfo> resolved;  // closed by this change
};

// A setting this site set before it joined a deployment, offered to the hub with its log, and
// what the deployment made of it: kept (the deployment now has the offered value), refused (it
// has another), or waiting (the hub has not decided yet: no value from the hub so far).
struct OfferedSetting {
  enum class Outcome { kWaiting, kKept, kRefused };
  SettingsField field = SettingsField{};
  std::string offered;
  Outcome outcome = Outcome::kWaiting;
  std::string deploymentValue;  // the value this site holds now
};

// This site's automatic numbering: its blocks, the next number, what is left.
struct NumbersReport {
  bool standalone = false;  // no deployment yet: numbers from next_number, no blocks
  bool isHub = false;
  uint64_t blockSize = 0;
  uint64_t next = 0;  // 0: none left (new customers wait for a number)
  uint64_t left = 0;  // numbers not yet handed out in this site's blocks
  struct Block {
    NumberLease lease;
    uint64_t left = 0;  // numbers of it not yet handed out
  };
  std::vector<Block> blocks;      // this site's, ascending
  std::vector<RecordId> pending;  // this site's customers waiting for a number
  size_t leasedBlocks = 0;        // every site's blocks
};

// One site's automatic numbers as the hub sees them (the status page): every block leased to
// it, and the free numbers left in its two newest (a site numbers upwards), as far as the hub has
// seen it number.
struct SiteNumbers {
  SiteId site = 0;
  std::vector<NumberLease> blocks;  // ascending
  uint64_t left = 0;
};

struct RegisterStatus {
  Meta meta;
  uint64_t customers = 0;  // live
  uint64_t deactivated = 0;
  uint64_t tombstones = 0;
  uint64_t logEntries = 0;
  VersionVector vector;
};

}  // namespace sitesync::sync
