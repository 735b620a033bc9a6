// protocol: the vocabulary every layer shares, and the bytes it is stored and sent as. Include
// this header for all of it, or one part for less:
//   status.h       Status, Result, DecodeError
//   ids.h          site, record and change ids, the hybrid logical clock, versions, vectors
//   fields.h       the customer and settings field tables
//   model.h        registers, customers, settings, changes, history entries
//   authorship.h   change digests, signed runs, hello proofs
//   local_state.h  a node's own bookkeeping (meta, peers met, allow list)
//   codec.h        the data model to and from the schema (protocol/schema/register.capnp)
//   filter.h       a field laptop's filter (technicians, groups)
//   messages.h     wire messages (protocol/schema/wire.capnp), their codec, and the checks a
//                  peer's change passes
#pragma once

#include "protocol/authorship.h"
#include "protocol/codec.h"
#include "protocol/fields.h"
#include "protocol/filter.h"
#include "protocol/ids.h"
#include "protocol/local_state.h"
#include "protocol/messages.h"
#include "protocol/model.h"
#include "protocol/status.h"
