// The multi-value register: write and join.
#include "sync/src/registers.h"

#include <algorithm>

namespace sitesync::sync {

std::vector<Head> headsOf(const FieldValue& r) {
  std::vector<Head> heads;
  if (r.version.isNull()) return heads;
  heads.reserve(1 + r.others.size());
  heads.push_back(r.shown());
  heads.insert(heads.end(), r.others.begin(), r.others.end());
  return heads;
}

std::vector<Version> headVersions(const FieldValue& r) {
  std::vector<Version> versions;
  if (r.version.isNull()) return versions;
  versions.push_back(Version{r.version.hlc, r.version.origin, r.seq});
  for (const auto& h : r.others)
    versions.push_back(Version{h.version.hlc, h.version.origin, h.seq});
  return versions;
}

void setHeads(FieldValue& r, std::vector<Head> heads) {
  std::sort(heads.begin(), heads.end(),
            [](const Head& a, const Head& b) { return a.version > b.version; });
  heads.erase(std::unique(heads.begin(), heads.end(),
                          [](const Head& a, const Head& b) { return a.version == b.version; }),
              heads.end());
  r.others.clear();
  if (heads.empty()) {
    r.value.clear();
    r.version = Version{};
    r.seq = 0;
    return;
  }
  r.value = std::move(heads.front().value);
  r.version = heads.front().version;
  r.seq = heads.front().seq;
  r.others.assign(std::make_move_iterator(heads.begin() + 1), std::make_move_iterator(heads.end()));
}

bool writeRegister(FieldValue& r, Head write, const std::vector<Version>& replaces,
                   const VersionVector& held, std::vector<Head>& removed) {
  removed.clear();
  if (r.version == write.version) return false;
  // A write that a write applied before had seen: it is no head, but what it replaced goes.
  bool alreadyReplaced = false;
  if (auto early = std::find(r.replacedEarly.begin(), r.replacedEarly.end(), write.version);
      early != r.replacedEarly.end()) {
    r.replacedEarly.erase(early);
    alreadyReplaced = true;
  }
  if (!alreadyReplaced && r.version.isNull() && r.others.empty() && r.replacedEarly.empty() &&
      replaces.empty()) {
    // The first write to a register (a create's fields): it is the one head.
    r.value = std::move(write.value);
    r.version = write.version;
    r.seq = write.seq;
    return true;
  }
  if (!alreadyReplaced && r.others.empty() && r.replacedEarly.empty() && replaces.size() == 1 &&
      replaces.front() == r.version) {
    // The common case, a write over the one value its author saw: no allocation.
    removed.push_back(r.shown());
    r.value = std::move(write.value);
    r.version = write.version;
    r.seq = write.seq;
    return true;
  }
  std::vector<Head> heads = headsOf(r);
  for (const auto& h : heads)
    if (h.version == write.version) return false;
  // A replaced write that is not a head and not held here has not arrived yet.
  for (const Version& v : replaces) {
    const bool isHead =
        std::any_of(heads.begin(), heads.end(), [&](const Head& h) { return h.version == v; });
    if (!isHead && v.seq != 0 && !held.contains(ChangeId{v.origin, v.seq}))
      r.replacedEarly.push_back(v);
  }
  std::vector<Head> kept;
  kept.reserve(heads.size() + 1);
  for (auto& h : heads) {
    if (std::find(replaces.begin(), replaces.end(), h.version) != replaces.end())
      removed.push_back(std::move(h));
    else
      kept.push_back(std::move(h));
  }
  if (!alreadyReplaced) kept.push_back(std::move(write));
  const Version shownBefore = r.version;
  const bool headsChanged = !removed.empty();
  std::vector<Version> early = std::move(r.replacedEarly);
  setHeads(r, std::move(kept));
  std::sort(early.begin(), early.end());
  early.erase(std::unique(early.begin(), early.end()), early.end());
  r.replacedEarly = std::move(early);
  return !alreadyReplaced || headsChanged || r.version != shownBefore;
}

FieldValue joinRegisters(const FieldValue& local, const VersionVector& localSeen,
                         const FieldValue& remote, const VersionVector& remoteSeen) {
  const std::vector<Head> mine = headsOf(local);
  const std::vector<Head> theirs = headsOf(remote);
  auto holds = [](const std::vector<Head>& heads, const Head& h) {
    return std::any_of(heads.begin(), heads.end(),
                       [&](const Head& x) { return x.version == h.version; });
  };
  auto seen = [](const VersionVector& v, uint64_t seq, SiteId origin) {
    return seq != 0 && v.contains(ChangeId{origin, seq});
  };
  auto replacedBy = [](const FieldValue& r, const Head& h) {
    return std::find(r.replacedEarly.begin(), r.replacedEarly.end(), h.version) !=
           r.replacedEarly.end();
  };
  std::vector<Head> joined;
  for (const auto& h : mine)
    if ((holds(theirs, h) || !seen(remoteSeen, h.seq, h.version.origin)) && !replacedBy(remote, h))
      joined.push_back(h);
  for (const auto& h : theirs)
    if (!holds(mine, h) && !seen(localSeen, h.seq, h.version.origin) && !replacedBy(local, h))
      joined.push_back(h);
  FieldValue out;
  setHeads(out, std::move(joined));
  // A write replaced early on one side stays awaited only while neither side holds it.
  for (const auto* side : {&local, &remote})
    for (const Version& v : side->replacedEarly)
      if (!seen(localSeen, v.seq, v.origin) && !seen(remoteSeen, v.seq, v.origin))
        out.replacedEarly.push_back(v);
  std::sort(out.replacedEarly.begin(), out.replacedEarly.end());
  out.replacedEarly.erase(std::unique(out.replacedEarly.begin(), out.replacedEarly.end()),
                          out.replacedEarly.end());
  return out;
}

}  // namespace sitesync::sync
