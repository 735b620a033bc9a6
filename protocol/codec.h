// Codecs between the plain values of the data model and the Cap'n Proto schema
// (protocol/schema/register.capnp), which is the on-disk format.
#pragma once

#include <string>
#include <string_view>

#include "protocol/local_state.h"
#include "protocol/model.h"
#include "protocol/status.h"

namespace sitesync {

// encode writes one Cap'n Proto message in the packed encoding to `out` (replacing what it
// held); decode* unpacks the bytes into an aligned, reused scratch buffer (LMDB and ZeroMQ data
// are not 8-byte aligned), reads them under traversal and nesting limits, and throws
// DecodeError on malformed input. The values returned own their data (nothing points into
// `bytes`).

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
// The customers a change is about (its target, and those a merge absorbs), without its values.
struct ChangeScope {
  ChangeId id;
  Operation operation = Operation::kUpdate;
  RecordId target;
  std::vector<RecordId> absorbed;
};
ChangeScope decodeChangeScope(std::string_view bytes);
HistoryEntry decodeHistoryEntry(std::string_view bytes);
Meta decodeMeta(std::string_view bytes);
// The site key a meta record of a store before format 2 holds (the retired Meta.signingKey,
// which the store's upgrade moves to its local tables); empty when it holds none.
std::string decodeRetiredSigningKey(std::string_view metaBytes);
PeerState decodePeerState(std::string_view bytes);
AllowedPeer decodeAllowedPeer(std::string_view bytes);

}  // namespace sitesync
