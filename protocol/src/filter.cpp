// Filter specs to and from their canonical text (protocol/filter.h).
#include "protocol/filter.h"

namespace sitesync {

namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// One term into `filter`; an empty string when it was taken, else why not.
std::string addTerm(RecordFilter& filter, std::string_view term) {
  term = trimmed(term);
  const size_t eq = term.find('=');
  if (eq == std::string_view::npos)
    return "filter term '" + std::string(term) + "' is not KEY=VALUE (technician=USER or group=G)";
  const std::string_view key = trimmed(term.substr(0, eq));
  const std::string_view value = trimmed(term.substr(eq + 1));
  if (value.empty()) return "filter term '" + std::string(term) + "' has no value";
  if (key == "technician") {
    filter.technicians.emplace(value);
  } else if (key == "group") {
    filter.groups.emplace(value);
  } else {
    return "unknown filter key '" + std::string(key) + "' (use technician=USER or group=G)";
  }
  return {};
}

}  // namespace

std::string RecordFilter::canonical() const {
  std::string out;
  const auto add = [&](std::string_view key, const std::string& value) {
    if (!out.empty()) out += ',';
    out.append(key).append("=").append(value);
  };
  for (const auto& g : groups) add("group", g);
  for (const auto& t : technicians) add("technician", t);
  return out;
}

Result<RecordFilter> parseRecordFilter(const std::vector<std::string>& specs) {
  RecordFilter filter;
  for (const std::string& spec : specs) {
    std::string_view rest = spec;
    while (true) {
      const size_t comma = rest.find(',');
      if (auto why = addTerm(filter, rest.substr(0, comma)); !why.empty())
        return Status::invalidArgument(why);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (filter.empty()) return Status::invalidArgument("a filter needs at least one term");
  return filter;
}

RecordFilter decodeRecordFilter(std::string_view canonical) {
  if (canonical.empty()) return {};
  auto parsed = parseRecordFilter({std::string(canonical)});
  if (!parsed.isOk()) throw DecodeError(parsed.status().message());
  return *parsed;
}

}  // namespace sitesync
