// The keyed registers of the deployment settings: API users, custom field definitions and the
// catalogues, their values' layouts and checks (protocol/fields.h).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

#include "protocol/model.h"
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

std::string formatCatalogueEntry(const CatalogueEntry& e) {
  std::string services;
  for (const auto& s : e.services) services += (services.empty() ? "" : ",") + s;
  return std::string(e.retired ? "1" : "0") + "\t" + e.label + "\t" + std::to_string(e.valueCents) +
         "\t" + std::to_string(e.priceCents) + "\t" + std::to_string(e.validMonths) + "\t" +
         services;
}

std::optional<CatalogueEntry> parseCatalogueEntry(std::string_view value) {
  const auto parts = splitOn(value, '\t');
  if (parts.size() != 6 || value.size() > 4096 || (parts[0] != "0" && parts[0] != "1") ||
      !validateValue(ValueKind::kText, parts[1]).empty())
    return std::nullopt;
  CatalogueEntry e;
  e.retired = parts[0] == "1";
  e.label = parts[1];
  for (const auto& [text, number] : {std::pair{parts[2], &e.valueCents},
                                     {parts[3], &e.priceCents},
                                     {parts[4], &e.validMonths}}) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *number);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  }
  if (e.validMonths > 1200) return std::nullopt;
  if (!parts[5].empty()) e.services = splitOn(parts[5], ',');
  for (const auto& s : e.services)
    if (s.empty() || !validateValue(ValueKind::kText, s).empty()) return std::nullopt;
  return e;
}

std::map<std::string, CatalogueEntry> Settings::catalogue(uint16_t code) const {
  std::map<std::string, CatalogueEntry> out;
  if (const auto* registers = keyed(code))
    for (const auto& [name, held] : *registers)
      if (auto entry = parseCatalogueEntry(held.value)) out.emplace(name, std::move(*entry));
  return out;
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
