// Identity, clocks and versions (DESIGN.md section 4): site and record ids, the hybrid
// logical clock, field versions, change ids and version vectors.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sitesync {

using SiteId = uint64_t;

struct RecordId {
  SiteId site = 0;
  uint64_t counter = 0;
  bool isNull() const { return site == 0 && counter == 0; }
  auto operator<=>(const RecordId&) const = default;
  // "<16 hex digits of the site>-<counter>", e.g. "1f3a5c7e9b2d4f60-42".
  std::string toString() const;
  static std::optional<RecordId> parse(std::string_view text);
};

// Hybrid logical clock: 48 bits of physical milliseconds, 16 bits of logical counter.
struct Hlc {
  uint64_t packed = 0;
  static constexpr int kLogicalBits = 16;
  uint64_t millis() const { return packed >> kLogicalBits; }
  uint64_t logical() const { return packed & ((1u << kLogicalBits) - 1); }
  static Hlc from(uint64_t millis, uint64_t logical) {
    return Hlc{(millis << kLogicalBits) | logical};
  }
  auto operator<=>(const Hlc&) const = default;
  // ISO 8601 UTC with milliseconds, for people.
  std::string toIso8601() const;
};

// Version of a field write: (hlc, origin), totally ordered. `seq` names the write's change,
// (origin, seq), so that a node can tell whether it holds that change; it is carried along
// and is not part of the order (one (hlc, origin) has one seq).
struct Version {
  Hlc hlc;
  SiteId origin = 0;
  uint64_t seq = 0;
  bool isNull() const { return hlc.packed == 0 && origin == 0; }
  std::strong_ordering operator<=>(const Version& o) const {
    if (auto c = hlc <=> o.hlc; c != 0) return c;
    return origin <=> o.origin;
  }
  bool operator==(const Version& o) const { return hlc == o.hlc && origin == o.origin; }
};

struct ChangeId {
  SiteId origin = 0;
  uint64_t seq = 0;
  auto operator<=>(const ChangeId&) const = default;
};

// For each origin, the highest seq held with no gaps.
class VersionVector {
 public:
  uint64_t get(SiteId origin) const;
  void set(SiteId origin, uint64_t seq) { entries_[origin] = seq; }
  bool contains(ChangeId id) const { return get(id.origin) >= id.seq; }
  // How many changes this vector counts that `other` lacks (what a peer with `other` is behind).
  uint64_t countNotIn(const VersionVector& other) const;
  void clear() { entries_.clear(); }
  const std::map<SiteId, uint64_t>& entries() const { return entries_; }
  bool operator==(const VersionVector&) const = default;

 private:
  std::map<SiteId, uint64_t> entries_;
};

std::string siteIdToHex(SiteId id);
std::optional<SiteId> siteIdFromHex(std::string_view hex);

}  // namespace sitesync
