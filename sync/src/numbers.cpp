// Automatic customer numbers (DESIGN.md section 6): the hub leases blocks of numbers to sites
// as replicated changes, each site numbers its new customers from its own blocks (so automatic
// numbers never collide), and a site out of numbers leaves the number pending until its next
// block arrives. A site that has not joined a deployment yet numbers from next_number alone.
#include <algorithm>
#include <charconv>
#include <map>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/apply_context.h"

namespace sitesync::sync {

using storage::ReadTxn;
using storage::WriteTxn;

namespace {

// A customer number as an integer; nullopt for anything that is not plain decimal digits
// without a leading zero (those never come from a block).
std::optional<uint64_t> numberValue(std::string_view text) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The smallest number with `digits` digits (1 for 1 digit).
uint64_t smallestWithDigits(uint64_t digits) {
  uint64_t smallest = 1;
  for (uint64_t i = 1; i < digits && smallest < UINT64_MAX / 10; ++i) smallest *= 10;
  return smallest;
}

bool isStandalone(const Meta& meta) {
  return !meta.isHub && meta.deployment == 0;
}

}  // namespace

Result<std::string> Core::nextAutoNumber(WriteTxn& txn, ApplyContext& batch) {
  const Settings& s = batch.settings;
  if (!s.getBool(SettingsField::autoNumber))
    return Status::invalidArgument(
        "a customer number is required: automatic numbering is off (auto_number=false)");
  const uint64_t maxLen = s.getUnsigned(SettingsField::numberMaxLength);
  const uint64_t smallest = smallestWithDigits(s.getUnsigned(SettingsField::numberMinLength));
  auto tooLong = [&](uint64_t n) {
    return std::to_string(n).size() > maxLen
               ? Status::failedPrecondition("automatic numbering has run past " +
                                            std::to_string(maxLen) +
                                            " digits: raise number_max_length or type a number")
               : Status::ok();
  };
  auto isFree = [&](uint64_t n) { return store_.findByNumber(txn, std::to_string(n)).empty(); };

  if (isStandalone(batch.meta)) {
    uint64_t candidate =
        std::max({batch.meta.nextAutoNumber, s.getUnsigned(SettingsField::nextNumber), smallest});
    for (;; ++candidate) {  // a typed number may have taken one
      if (auto st = tooLong(candidate); !st.isOk()) return st;
      if (isFree(candidate)) {
        batch.meta.nextAutoNumber = candidate + 1;
        return std::to_string(candidate);
      }
    }
  }

  const SiteId me = batch.meta.siteId;
  uint64_t cursor = std::max(batch.meta.nextAutoNumber, smallest);
  for (;;) {
    std::optional<NumberLease> block = store_.leaseHolding(txn, cursor);
    if (!block || block->site != me) {
      // Past this site's current block: its next one above the cursor, if any.
      block.reset();
      for (const NumberLease& l : store_.leases(txn))
        if (l.site == me && l.first > cursor) {
          block = l;
          break;
        }
      if (!block) {
        if (!batch.meta.isHub) return std::string();  // pending until the next block
        block = issueLease(txn, batch, me);           // the hub leases to itself
      }
      cursor = std::max(block->first, smallest);
      if (cursor > block->last) continue;
    }
    for (uint64_t n = cursor; n <= block->last; ++n) {
      if (auto st = tooLong(n); !st.isOk()) return st;
      if (isFree(n)) {
        batch.meta.nextAutoNumber = n + 1;
        return std::to_string(n);
      }
    }
    cursor = block->last + 1;
  }
}

void Core::applyLease(WriteTxn& txn, ApplyContext& batch, const Change& change) {
  NumberLease lease = change.lease;
  if (lease.site == 0 || lease.first == 0 || lease.first > lease.last)
    throw ApplyError("lease change " + siteIdToHex(change.id.origin) + ":" +
                     std::to_string(change.id.seq) + " holds no valid number block");
  lease.version = change.version();
  store_.putLease(txn, lease);
  if (lease.site == batch.meta.siteId) {
    batch.fillPending = true;
    // Blocks come in ascending order: one below this site's cursor means the cursor is left
    // over from numbering alone before it joined (from next_number), and would skip the block.
    if (lease.last < batch.meta.nextAutoNumber) batch.meta.nextAutoNumber = lease.first;
  }
  if (batch.newestLeases) {
    NumberLease& newest = (*batch.newestLeases)[lease.site];
    if (newest.site == 0 || newest.first < lease.first) newest = lease;
  }
}

void Core::noteNumberUse(const ReadTxn& txn, ApplyContext& batch, const Change& change,
                         const Customer* before, const Customer& after) const {
  const std::string& number = after.value(CustomerField::number);
  if (after.isLive() && number.empty()) {
    const bool waitedBefore =
        before && before->isLive() && before->value(CustomerField::number).empty();
    if (!waitedBefore && after.id.site != batch.meta.siteId)
      ++batch.leaseDemand[after.id.site].pending;
    return;
  }
  if (change.operation != Operation::kCreate || change.id.origin == batch.meta.siteId) return;
  auto n = numberValue(number);
  if (!n) return;
  const auto& newest = batch.newestLeaseBySite(store_, txn);
  auto it = newest.find(change.id.origin);
  // Numbered from its newest block, within its last quarter: the site runs low.
  const uint64_t size =
      std::max<uint64_t>(1, batch.settings.getUnsigned(SettingsField::numberBlockSize));
  // (made after the block arrived there: a number it gave alone before does not count).
  if (it != newest.end() && it->second.holds(*n) && change.hlc > it->second.version.hlc &&
      it->second.last - *n < std::max<uint64_t>(1, size / 4))
    batch.leaseDemand[change.id.origin].runningLow = true;
}

NumberLease Core::issueLease(WriteTxn& txn, ApplyContext& batch, SiteId site) {
  const Settings& s = batch.settings;
  const uint64_t size = std::max<uint64_t>(1, s.getUnsigned(SettingsField::numberBlockSize));
  uint64_t first = std::max(s.getUnsigned(SettingsField::nextNumber),
                            smallestWithDigits(s.getUnsigned(SettingsField::numberMinLength)));
  if (auto last = store_.lastLease(txn)) first = std::max(first, last->last + 1);
  // Numbers in use inside a block (typed, or given by a site before it joined) are claims like
  // any other: its holder skips them. Only a block in use at both ends (a run another site
  // numbered alone before it joined) is passed over: leasing it would give nothing to number.
  auto inUse = [&](uint64_t n) { return !store_.findByNumber(txn, std::to_string(n)).empty(); };
  for (int skipped = 0; skipped < 100000 && inUse(first) && inUse(first + size - 1); ++skipped)
    first += size;
  Change change = makeChange(batch, Operation::kLease, RecordId{}, "hub");
  change.target = RecordId{};
  change.lease = NumberLease{site, first, first + size - 1, {}};
  change.note = "number block " + std::to_string(first) + "-" + std::to_string(first + size - 1) +
                " leased to site " + siteIdToHex(site);
  applyIn(txn, batch, change);
  NumberLease issued = change.lease;
  issued.version = change.version();
  return issued;
}

namespace {

// The numbers a site has left, as the hub sees them: the free numbers of its two newest blocks
// (a site numbers upwards, so older ones are used up), counted only up to `enough`.
uint64_t numbersLeftAt(const storage::Store& store, const ReadTxn& txn, SiteId site,
                       uint64_t smallest, uint64_t enough) {
  std::vector<NumberLease> blocks;
  for (const NumberLease& l : store.leases(txn))
    if (l.site == site) blocks.push_back(l);
  uint64_t left = 0;
  const size_t newest = std::min<size_t>(2, blocks.size());
  for (auto block = blocks.rbegin(); block != blocks.rbegin() + long(newest); ++block)
    for (uint64_t n = block->last; n >= std::max(block->first, smallest) && n != 0; --n) {
      if (left >= enough) return left;
      if (store.findByNumber(txn, std::to_string(n)).empty()) ++left;
    }
  return left;
}

}  // namespace

size_t Numbering::ensureLeases(SiteId site) {
  bool holdsBlocks = false;
  {
    auto txn = core_.store_.read();
    const Meta m = *core_.store_.meta(txn);
    if (!m.isHub || site == m.siteId) return 0;
    // A hello costs nothing: only a site that proved itself (a signed change of its own, or a
    // key on the allow list) is worth numbers replicated to every site.
    const auto allowed = core_.store_.local().allowedPeers(txn);
    if (core_.store_.vector(txn).get(site) == 0 &&
        std::none_of(allowed.begin(), allowed.end(),
                     [&](const AllowedPeer& p) { return p.siteId == site; }))
      return 0;
    const Settings s = core_.store_.settings(txn);
    const uint64_t size = std::max<uint64_t>(1, s.getUnsigned(SettingsField::numberBlockSize));
    const uint64_t smallest = smallestWithDigits(s.getUnsigned(SettingsField::numberMinLength));
    const auto leases = core_.store_.leases(txn);
    holdsBlocks = std::any_of(leases.begin(), leases.end(),
                              [&](const NumberLease& l) { return l.site == site; });
    // Below a quarter of a block left: a new one now, before the site runs out offline.
    const uint64_t quarter = std::max<uint64_t>(1, size / 4);
    if (holdsBlocks && numbersLeftAt(core_.store_, txn, site, smallest, quarter) >= quarter)
      return 0;
  }
  FollowUp work;
  work.leaseDemand[site] = LeaseDemand{};
  core_.followUp(work);
  return holdsBlocks ? 1 : 2;  // followUp's rule: one to spare, two at a first contact
}

bool Core::followUp(const FollowUp& work, std::string* decided) {
  bool wrote = false;
  if (!work.sharedNumbers.empty()) wrote |= engine_.renumberDuplicates(work.sharedNumbers) > 0;
  if (!work.leaseDemand.empty()) {
    store_.write([&](WriteTxn& txn) {
      ApplyContext batch(store_, txn);
      const uint64_t size =
          std::max<uint64_t>(1, batch.settings.getUnsigned(SettingsField::numberBlockSize));
      const auto& newest = batch.newestLeaseBySite(store_, txn);
      for (const auto& [site, demand] : work.leaseDemand) {
        // Enough for every customer that waits, and one block to spare; a first contact gets
        // two blocks.
        uint64_t blocks = (demand.pending + size - 1) / size + 1;
        if (!newest.count(site)) blocks = std::max<uint64_t>(blocks, 2);
        for (uint64_t i = 0; i < blocks; ++i) issueLease(txn, batch, site);
      }
      finish(txn, batch);
    });
    // The node streams what the log gained: the sites hear of their blocks at once.
    if (localCommitListener_) localCommitListener_();
    wrote = true;
  }
  if (work.fillPending) wrote |= engine_.fillPendingNumbers() > 0;
  if (!work.settingsOffers.empty()) {
    std::string outcome = decideSettingsOffers(work.settingsOffers);
    if (decided) *decided = std::move(outcome);
    wrote = true;
  }
  return wrote;
}

size_t Numbering::fillPendingNumbers() {
  const SiteId me = core_.engine_.meta().siteId;
  std::vector<LocalOp> ops;
  {
    auto txn = core_.store_.read();
    // Only the site that created a customer numbers it: two sites filling one would collide.
    for (RecordId id : core_.store_.withPendingNumbers(txn))
      if (id.site == me)
        ops.push_back(LocalOp{LocalOp::Kind::kAssignNumber,
                              id,
                              {},
                              "sitesync",
                              "numbered from a block leased after the customer was created"});
  }
  if (ops.empty()) return 0;
  size_t numbered = 0;
  for (const OpResult& r : core_.engine_.submit(ops)) numbered += r.changed ? 1 : 0;
  return numbered;
}

std::vector<SiteNumbers> Numbering::numbersBySite() const {
  auto txn = core_.store_.read();
  const Settings s = core_.store_.settings(txn);
  const uint64_t smallest = smallestWithDigits(s.getUnsigned(SettingsField::numberMinLength));
  std::map<SiteId, SiteNumbers> bySite;
  for (const NumberLease& l : core_.store_.leases(txn)) {
    auto& site = bySite[l.site];
    site.site = l.site;
    site.blocks.push_back(l);
  }
  std::vector<SiteNumbers> out;
  for (auto& [id, site] : bySite) {
    site.left = numbersLeftAt(core_.store_, txn, id, smallest, UINT64_MAX);
    out.push_back(std::move(site));
  }
  return out;
}

NumbersReport Numbering::numbers() const {
  NumbersReport report;
  auto txn = core_.store_.read();
  const Meta m = *core_.store_.meta(txn);
  const Settings s = core_.store_.settings(txn);
  report.standalone = isStandalone(m);
  report.isHub = m.isHub;
  report.blockSize = std::max<uint64_t>(1, s.getUnsigned(SettingsField::numberBlockSize));
  const uint64_t smallest = smallestWithDigits(s.getUnsigned(SettingsField::numberMinLength));
  for (RecordId id : core_.store_.withPendingNumbers(txn))
    if (id.site == m.siteId && core_.view(txn, *core_.store_.customer(txn, id)).isLive())
      report.pending.push_back(id);
  if (report.standalone) {
    report.next = std::max({m.nextAutoNumber, s.getUnsigned(SettingsField::nextNumber), smallest});
    return report;
  }
  const uint64_t cursor = std::max(m.nextAutoNumber, smallest);
  for (const NumberLease& l : core_.store_.leases(txn)) {
    ++report.leasedBlocks;
    if (l.site != m.siteId) continue;
    const uint64_t from = std::max(cursor, l.first);
    const uint64_t left = from > l.last ? 0 : l.last - from + 1;
    report.blocks.push_back({l, left});
    report.left += left;
    if (report.next == 0 && left > 0) report.next = from;
  }
  return report;
}

}  // namespace sitesync::sync
