// What a replication session (sync/peer_session.h) is set up with: its options, the link
// beneath it, and the sizes its batches and snapshot chunks start from.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sitesync::sync {

// Monotonic time since any fixed point (the transport's steady clock, or the simulation's).
using SessionTime = std::chrono::milliseconds;

// Credit a peer may ask for: more buys nothing but memory at the receiver.
inline constexpr size_t kMaxCredit = 64;
// Snapshot chunks are asked for in at most this size (the responder caps it at 64 KiB..16 MiB).
// The first of a full snapshot is smaller, and each next one is sized to arrive in about a
// quarter of deadAfter (at most 2 s) at the rate the last one came: over a slow link a chunk
// never outlasts the session's patience and a disconnect loses little.
inline constexpr uint32_t kSnapshotChunkBytes = uint32_t(4) << 20;
inline constexpr uint32_t kFirstSnapshotChunkBytes = uint32_t(256) << 10;
inline constexpr uint32_t kMinSnapshotChunkBytes = uint32_t(64) << 10;
// Change batches likewise: the first is at most this size, the next sized by how fast the last
// was acknowledged.
inline constexpr size_t kFirstBatchBytes = size_t(256) << 10;
inline constexpr std::chrono::milliseconds kFastRoundTrip{
    50};  // hello to hello: a LAN (and a peer record written)

struct SessionOptions {
  // Batches the peer may have unacknowledged at this node (this side's hello asks for it);
  // 0 asks the peer to send nothing (a push-only session, e.g. a fan-in measurement).
  size_t credit = 4;
  // One batch is one write transaction at the receiver (node.h's SyncOptions says what size buys).
  size_t batchChanges = 16000;
  size_t batchBytes = size_t(16) << 20;
  SessionTime heartbeat{1000};  // a quiet session sends a heartbeat this often
  SessionTime deadAfter{4000};  // silence (or an unanswered hello, or an unacknowledged batch)
  bool snapshotOnly = false;    // `join`: take the peer's snapshot; stream nothing either way
  // The largest snapshot chunk this node answers with, whatever the peer asks for (the
  // simulation makes it small so that laptops' joins and catch-ups come in several chunks).
  size_t largestChunk = size_t(16) << 20;
};

// The link beneath a session, as the transport knows it.
struct SessionLink {
  bool initiator = false;  // this side connected (and says hello first)
  std::string endpoint;    // initiator: where it connected (recorded with the peer)
  std::string peerKey;     // CURVE key the peer proved (responder) or must prove (initiator)
  std::string ownKey;      // this node's CURVE key (empty with peerKey on plain TCP)
};

}  // namespace sitesync::sync
