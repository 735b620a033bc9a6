// The filter of a field laptop (docs/filtered-sync.md): the technicians and customer groups
// whose customers it holds, combined with OR. Set once, at join; said in its hello and in each
// filtered snapshot request as canonical text.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/status.h"

namespace sitesync {

struct RecordFilter {
  std::set<std::string> technicians;  // technician=USER terms
  std::set<std::string> groups;       // group=G terms

  bool empty() const { return technicians.empty() && groups.empty(); }
  // The terms sorted and joined by ',' ("group=north,technician=bob"); empty for no filter.
  std::string canonical() const;
  bool operator==(const RecordFilter&) const = default;
};

// Parses filter specs ("technician=bob", "group=north,technician=ann"; each may hold several
// terms separated by ','). An unknown key, an empty value or no term at all is refused with a
// message naming the term.
Result<RecordFilter> parseRecordFilter(const std::vector<std::string>& specs);
// The canonical text back (as stored in Meta.filter and sent in hellos); throws DecodeError when
// malformed.
RecordFilter decodeRecordFilter(std::string_view canonical);

}  // namespace sitesync
