// The keyed registers of the deployment settings: API users and custom field definitions, their
// values' layouts and checks (protocol/fields.h).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

#include "protocol/protocol.h"

namespace sitesync {

namespace {
constexpr const char* kDefinitionKinds[] = {"text", "number", "date", "bool", "choice"};

std::vector<std::string> splitOn(std::string_view text, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string_view::npos; start = at + 1)
    out.emplace_back(text.substr(start, at - start));
  out.emplace_back(text.substr(start));
  return out;
}
}  // namespace

std::string formatDefinition(const CustomFieldDefinition& d) {
  std::string choices;
  for (const auto& c : d.choices) choices += (choices.empty() ? "" : ",") + c;
  return d.kind + "\t" + (d.required ? "1" : "0") + "\t" + (d.retired ? "1" : "0") + "\t" +
         d.label + "\t" + choices;
}

std::optional<CustomFieldDefinition> parseDefinition(std::string_view value) {
  const auto parts = splitOn(value, '\t');
  if (parts.size() != 5 || value.size() > 4096 ||
      !validateValue(ValueKind::kText, parts[3]).empty())
    return std::nullopt;
  CustomFieldDefinition d;
  d.kind = parts[0];
  if (std::find(std::begin(kDefinitionKinds), std::end(kDefinitionKinds), d.kind) ==
      std::end(kDefinitionKinds))
    return std::nullopt;
  for (const auto& [text, flag] : {std::pair{parts[1], &d.required}, {parts[2], &d.retired}}) {
    if (text != "0" && text != "1") return std::nullopt;
    *flag = text == "1";
  }
  d.label = parts[3];
  if (!parts[4].empty()) d.choices = splitOn(parts[4], ',');
  for (const auto& c : d.choices)
    if (c.empty() || !validateValue(ValueKind::kText, c).empty()) return std::nullopt;
  if ((d.kind == "choice") == d.choices.empty()) return std::nullopt;  // choices: kind choice only
  return d;
}

std::string definitionProblem(const CustomFieldDefinition& d, std::string_view value) {
  if (value.empty()) return {};
  if (d.kind == "number") {
    double parsed = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    const bool plain = value.find_first_of("eEnNiIpP") == std::string_view::npos;  // no inf, nan
    return ec == std::errc() && end == value.data() + value.size() && plain
               ? ""
               : "is not a number (e.g. 12 or 12.5)";
  }
  if (d.kind == "date") return validateValue(ValueKind::kDate, value);
  if (d.kind == "bool") return validateValue(ValueKind::kBool, value);
  if (d.kind == "choice" &&
      std::find(d.choices.begin(), d.choices.end(), value) == d.choices.end()) {
    std::string list;
    for (const auto& c : d.choices) list += (list.empty() ? "" : ", ") + c;
    return "is not one of its choices (" + list + ")";
  }
  return {};
}

bool isValidUserName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' ||
           c == '-';
  });
}

bool isValidUserValue(std::string_view value) {
  if (value.empty()) return true;
  const size_t space = value.find(' ');
  if (space == 0 || space > 16 || value.size() != space + 1 + 64) return false;
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return std::all_of(value.begin(), value.begin() + space, lower) &&
         std::all_of(value.begin() + space + 1, value.end(), hex);
}

}  // namespace sitesync
