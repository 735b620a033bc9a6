@0xacca89b82ca60461;
# The messages nodes exchange over ZeroMQ (docs/protocol.md describes the sockets and the
# sequence). One Message per ZeroMQ frame, in Cap'n Proto's packed encoding. Evolution rules as
# for register.capnp: new fields and union members only at new ordinals.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("sitesync::schema");

# The version of this protocol, said in Hello.protocolVersion; a node answers another version with
# Error{code = protocolVersion}. The code takes it from here (protocol.h's kProtocolVersion).
# 3: change batches of 256 bytes or more travel as one zstd frame (ChangeBatch).
# 4: snapshot chunks carry number leases as register.capnp's NumberLease.
# 5: every session is a stream (a one-shot `sync` is one with credit 1); Pull and PullReply
#    are retired, Hello.stream is ignored, Hello.credit 0 asks the peer to send nothing.
# 8: filtered sites (docs/filtered-sync.md): Hello.filter, filtered snapshot requests, errors
#    badFilter and outsideRights.
# 9: a snapshot chunk says the afterKey of the request it answers (SnapshotChunk.afterKey).
const protocolVersion :UInt32 = 9;

# A version vector is a List(KnownSeq) (register.capnp): per origin, the highest seq held with no
# gap.
using Register = import "register.capnp";
using KnownSeq = Register.KnownSeq;

struct Hello {
  # First message of a session, in both directions.
  protocolVersion @0 :UInt32;
  siteId @1 :UInt64;
  siteName @2 :Text;
  isHub @3 :Bool;
  vector @4 :List(KnownSeq);
  watch @5 :Bool;       # protocol 1 only (watch notifications); ignored since streaming links
  deployment @6 :UInt64;  # the sender's deployment id; 0 while it has none yet
  stream @7 :Bool;      # protocols 2-4 only (streaming link or one-shot); ignored since 5
  credit @8 :UInt32;    # change batches the peer may have unacknowledged (0: send none)
  # On a CURVE link: the sender's Ed25519 site key, and its signature over "sitesync/hello/1",
  # the site id (8 bytes, big-endian) and the sender's CURVE public key (Z85): proof that the
  # site and the link key belong together (docs/protocol.md, "Authorship").
  siteKey @9 :Data;
  siteProof @10 :Data;
  # Sites whose key the sender revoked, with the seq it held of each then: it applies none of
  # their later changes, so peers neither send them to it nor wait for it to hold them.
  revoked @11 :List(KnownSeq);
  # A filtered site (a field laptop): its filter, canonical ("group=G,technician=U"); empty for a
  # site that holds the whole register. A full peer streams nothing to a filtered one: it answers
  # its filtered snapshot requests.
  filter @12 :Text;
}

struct ChangeBatch {
  # Changes in the sender's log order; each element is one Change (register.capnp) exactly as
  # the sender stores it (packed). The receiver applies the batch in one transaction.
  changes @0 :List(Data);
  complete @1 :Bool;   # the sender had nothing more that the receiver lacks
  # The same changes as one zstd frame (with its content size) of, per change, its length as
  # an unsigned LEB128 varint then its bytes. A sender sets either this or `changes`: a batch
  # of a few hundred bytes or more goes compressed (docs/protocol.md, "Compression").
  compressed @2 :Data;
}

struct Ack {
  vector @0 :List(KnownSeq);   # the receiver's vector after applying
}

struct Pull {
  # Retired with protocol 5 (one-shot sessions are streams now); a node refuses it as malformed.
  vector @0 :List(KnownSeq);
  fromPosition @1 :UInt64;
}

struct PullReply {
  # Retired with protocol 5, as Pull.
  batch @0 :ChangeBatch;
  nextPosition @1 :UInt64;   # pass back in the next Pull
}

struct Heartbeat {
  # Sent on a streaming link that has been quiet for a second; silence for several seconds means
  # the link is dead. Carries the sender's vector, so a peer that lost a batch sends it again.
  vector @0 :List(KnownSeq);
}

struct SnapshotRequest {
  # "Send me your register from this record on" (bootstrap of a new node, or of one too far
  # behind for the responder's log).
  afterKey @0 :Data;     # empty: from the first record; else the previous chunk's nextKey
  maxBytes @1 :UInt32;   # about how large a chunk the requester wants (capped by the responder)
  # A filtered site's catch-up (docs/filtered-sync.md): the records its filter wants that changed
  # since `since` (its vector; empty: all of them), and those it holds (`held`, 16-byte ids in
  # ascending order) that changed, read at the responder's vector.
  filter @2 :Text;
  since @3 :List(KnownSeq);
  held @4 :Data;
}

struct SnapshotHistory {
  record @0 :Data;       # 16 bytes: the record id (site, counter), big-endian
  entry @1 :Data;        # one HistoryEntry (register.capnp), packed
}

struct SnapshotChunk {
  vector @0 :List(KnownSeq);  # the responder's vector when it read this chunk
  lastHlc @1 :UInt64;
  deployment @2 :UInt64;
  settings @3 :Data;             # Settings (register.capnp), packed; empty: defaults
  records @4 :List(Data);        # Customer records, packed, in id order, tombstones included
  history @5 :List(SnapshotHistory);
  nextKey @6 :Data;              # pass back as afterKey
  complete @7 :Bool;             # no record after this chunk
  leases @8 :List(Register.NumberLease);  # first chunk only: every block leased so far
  totalRecords @9 :UInt64;       # records the responder holds, for progress (0: not said)
  afterKey @10 :Data;            # the request's afterKey: the requester takes only the answer
                                 # to the request it awaits (not one repeated, or late)
}

struct Error {
  enum Code {
    protocolVersion @0;   # the peers speak different protocol versions
    malformed @1;         # a message that could not be decoded
    cannotApply @2;       # a change that could not be applied (out of order, unknown target)
    notInitialized @3;
    internal @4;
    deploymentMismatch @5;   # the peers belong to different deployments
    noSession @6;            # a request on a connection that has not said hello (or timed out)
    needSnapshot @7;         # the responder's log no longer reaches back to what is lacking
    notAllowed @8;           # the sender's key is not (or no longer) on the allow list
    badFilter @9;            # a filter naming a technician or group the deployment lacks
    outsideRights @10;       # a filtered site changed a customer outside its filter
  }
  code @0 :Code;
  message @1 :Text;
}

struct Message {
  union {
    hello @0 :Hello;
    changes @1 :ChangeBatch;
    ack @2 :Ack;
    pull @3 :Pull;             # retired (protocol 5)
    pullReply @4 :PullReply;   # retired (protocol 5)
    error @5 :Error;
    heartbeat @6 :Heartbeat;
    snapshotRequest @7 :SnapshotRequest;
    snapshotChunk @8 :SnapshotChunk;
  }
}
