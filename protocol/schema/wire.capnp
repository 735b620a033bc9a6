@0xacca89b82ca60461;
# The messages nodes exchange over ZeroMQ (docs/protocol.md describes the sockets and the
# sequence). One Message per ZeroMQ frame, in Cap'n Proto's packed encoding. Evolution rules as
# for register.capnp: new fields and union members only at new ordinals.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("sitesync::schema");

const protocolVersion :UInt32 = 1;

struct VectorEntry {
  origin @0 :UInt64;   # site id
  seq @1 :UInt64;      # highest seq of that origin held with no gap
}

struct Hello {
  # First message of a session, in both directions.
  protocolVersion @0 :UInt32;
  siteId @1 :UInt64;
  siteName @2 :Text;
  isHub @3 :Bool;
  vector @4 :List(VectorEntry);
  watch @5 :Bool;   # "tell me when your log grows": the server then sends this socket an
                    # unsolicited hello whenever it has new changes (for about 5 s after each
                    # watching hello, so a watcher repeats it every second)
}

struct ChangeBatch {
  # Changes in the sender's log order; each element is one Change (register.capnp) exactly as
  # the sender stores it (packed). The receiver applies the batch in one transaction.
  changes @0 :List(Data);
  complete @1 :Bool;   # the sender had nothing more that the receiver lacks
}

struct Ack {
  vector @0 :List(VectorEntry);   # the receiver's vector after applying
}

struct Pull {
  # "Send me what I lack": the requester's vector, and where the previous batch ended in the
  # responder's log (0: start where the requester's knowledge ends).
  vector @0 :List(VectorEntry);
  fromPosition @1 :UInt64;
}

struct PullReply {
  batch @0 :ChangeBatch;
  nextPosition @1 :UInt64;   # pass back in the next Pull
}

struct Error {
  enum Code {
    protocolVersion @0;   # the peers speak different protocol versions
    malformed @1;         # a message that could not be decoded
    cannotApply @2;       # a change that could not be applied (out of order, unknown target)
    notInitialized @3;
    internal @4;
  }
  code @0 :Code;
  message @1 :Text;
}

struct Message {
  union {
    hello @0 :Hello;
    changes @1 :ChangeBatch;
    ack @2 :Ack;
    pull @3 :Pull;
    pullReply @4 :PullReply;
    error @5 :Error;
  }
}
