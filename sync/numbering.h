// Automatic customer numbers (DESIGN.md section 6): the hub leases each site blocks of numbers,
// a site numbers its new customers from its blocks, and the hub renumbers a later claim on a
// number another customer holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/protocol.h"
#include "sync/engine_part.h"
#include "sync/operations.h"
#include "sync/reports.h"

namespace sitesync::sync {

// A part of Engine (sync/engine.h), which is what callers hold.
class Numbering : private EnginePart {
 public:
  // Hub only: gives every live customer that lost its number to another (smaller version)
  // claim the next free number, with an ordinary change whose history says why. Returns how
  // many were renumbered. Run by applyBatch at the hub for the customers a batch numbered.
  size_t renumberDuplicates(const std::vector<RecordId>& touched);
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
  // Every site holding blocks, by site id (at a site other than the hub: the blocks it knows of).
  std::vector<SiteNumbers> numbersBySite() const;

 protected:
  explicit Numbering(Core& core) : EnginePart(core) {}
};

}  // namespace sitesync::sync
