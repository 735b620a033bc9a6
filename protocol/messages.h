// Wire messages (protocol/schema/wire.capnp; docs/protocol.md has the sequence), their codec,
// and the checks a change received from a peer passes before anything of it is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/model.h"
#include "protocol/status.h"

namespace sitesync {

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
  bool stream = false;         // protocols 2-4 only; every session streams since 5
  uint32_t credit = 0;         // batches the peer may have in flight to the sender (0: none)
  std::string siteKey = {};    // on CURVE links: the sender's Ed25519 public key ...
  std::string siteProof = {};  // ... and its signature of helloProofMessage
  VersionVector revoked = {};  // revoked sites, and the seq held of each when revoked
  std::string filter = {};     // a filtered site's canonical filter (empty: holds everything)
};
struct ChangeBatchMsg {
  std::vector<std::string> changes;  // each one encoded Change, as stored
  bool complete = false;
};
struct AckMsg {
  VersionVector vector;
};
struct HeartbeatMsg {
  VersionVector vector;
};
struct SnapshotRequestMsg {
  std::string afterKey;  // empty: from the first record
  uint32_t maxBytes = 0;
  // A filtered site's request: its filter, its vector (empty: everything it wants) and the ids
  // of the records it holds (16 bytes each, ascending).
  std::string filter = {};
  VersionVector since = {};
  std::string held = {};
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
  uint64_t totalRecords = 0;  // the responder's records, for a progress display (0: not said)
  std::string afterKey;       // the request's: which request this chunk answers
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
  kBadFilter = 9,           // a filter naming a technician or group the deployment lacks
  kOutsideRights = 10,      // a filtered site changed a customer outside its filter
};
struct ErrorMsg {
  WireError code = WireError::kInternal;
  std::string message;
};
using WireMessage = std::variant<HelloMsg, ChangeBatchMsg, AckMsg, ErrorMsg, HeartbeatMsg,
                                 SnapshotRequestMsg, SnapshotChunkMsg>;

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
