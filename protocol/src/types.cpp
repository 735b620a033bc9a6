// Vocabulary types, field tables and value validation.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "protocol/protocol.h"

namespace sitesync {

namespace {

bool parseHex64(std::string_view hex, uint64_t& out) {
  if (hex.empty() || hex.size() > 16) return false;
  auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), out, 16);
  return ec == std::errc() && ptr == hex.data() + hex.size();
}

bool allOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isLower(char c) {
  return c >= 'a' && c <= 'z';
}

}  // namespace

std::string siteIdToHex(SiteId id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::optional<SiteId> siteIdFromHex(std::string_view hex) {
  uint64_t v = 0;
  if (!parseHex64(hex, v)) return std::nullopt;
  return v;
}

void stripPersonalData(Change& change) {
  if (change.personalHash.empty()) {
    const Digest hash = personalDataHash(change);
    change.personalHash.assign(reinterpret_cast<const char*>(hash.data()), hash.size());
  }
  change.author.clear();
  for (auto& w : change.writes) w.value.clear();
}

bool Customer::hasOpenConflicts() const {
  for (const auto& f : fields)
    if (f.inConflict()) return true;
  for (const auto& [name, f] : customFields)
    if (f.inConflict()) return true;
  for (const auto& [where, f] : elements)
    if (f.inConflict()) return true;
  return false;
}

std::string RecordId::toString() const {
  return siteIdToHex(site) + "-" + std::to_string(counter);
}

std::optional<RecordId> RecordId::parse(std::string_view text) {
  auto dash = text.find('-');
  if (dash != 16 || text.size() < 18 || text.size() > 37) return std::nullopt;
  RecordId id;
  if (!parseHex64(text.substr(0, 16), id.site)) return std::nullopt;
  auto digits = text.substr(17);
  if (!allOf(digits, isDigit)) return std::nullopt;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id.counter);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return id;
}

std::string Hlc::toIso8601() const {
  std::time_t secs = static_cast<std::time_t>(millis() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis() % 1000));
  return buf;
}

uint64_t VersionVector::get(SiteId origin) const {
  auto it = entries_.find(origin);
  return it == entries_.end() ? 0 : it->second;
}

uint64_t VersionVector::countNotIn(const VersionVector& other) const {
  uint64_t n = 0;
  for (const auto& [origin, seq] : entries_)
    if (seq > other.get(origin)) n += seq - other.get(origin);
  return n;
}

// ---------------------------------------------------------------------------------------------

const std::array<FieldInfo, kCustomerFieldCount>& customerFields() {
  static const std::array<FieldInfo, kCustomerFieldCount> table = {{
#define SITESYNC_ROW(code, schema, cli, kind, help) {code, #schema, cli, ValueKind::kind, help},
      SITESYNC_CUSTOMER_FIELDS(SITESYNC_ROW)
#undef SITESYNC_ROW
  }};
  return table;
}

const std::array<FieldInfo, kSettingsFieldCount>& settingsFields() {
  static const std::array<FieldInfo, kSettingsFieldCount> table = {{
#define SITESYNC_ROW(code, schema, cli, kind, dflt, help) \
  {code, #schema, cli, ValueKind::kind, help},
      SITESYNC_SETTINGS_FIELDS(SITESYNC_ROW)
#undef SITESYNC_ROW
  }};
  return table;
}

const char* settingsDefault(SettingsField field) {
  static const char* const defaults[] = {
#define SITESYNC_ROW(code, schema, cli, kind, dflt, help) dflt,
      SITESYNC_SETTINGS_FIELDS(SITESYNC_ROW)
#undef SITESYNC_ROW
  };
  return defaults[size_t(field)];
}

namespace {
template <typename Enum, size_t N>
std::optional<Enum> byName(const std::array<FieldInfo, N>& table, std::string_view name) {
  for (const auto& f : table)
    if (name == f.cliName || name == f.schemaName) return static_cast<Enum>(f.code);
  return std::nullopt;
}
}  // namespace

std::optional<CustomerField> customerFieldByName(std::string_view name) {
  return byName<CustomerField>(customerFields(), name);
}
std::optional<SettingsField> settingsFieldByName(std::string_view name) {
  return byName<SettingsField>(settingsFields(), name);
}

std::string Settings::get(SettingsField f) const {
  const auto& slot = fields[size_t(f)];
  return slot.version.isNull() ? std::string(settingsDefault(f)) : slot.value;
}

uint64_t Settings::getUnsigned(SettingsField f) const {
  auto text = get(f);
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

bool Settings::getBool(SettingsField f) const {
  return get(f) == "true";
}

const char* operationName(Operation op) {
  switch (op) {
    case Operation::kCreate:
      return "create";
    case Operation::kUpdate:
      return "update";
    case Operation::kDelete:
      return "delete";
    case Operation::kRestore:
      return "restore";
    case Operation::kErase:
      return "erase";
    case Operation::kMerge:
      return "merge";
    case Operation::kSettings:
      return "settings";
    case Operation::kLease:
      return "lease";
    case Operation::kJournal:
      return "journal";
    case Operation::kDiscountUsage:
      return "discount_usage";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Validation

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and out-of-range code points are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

namespace {

constexpr size_t kMaxValueBytes = 1000;
constexpr size_t kMaxNoteBytes = 16384;

bool validDate(std::string_view v) {
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!isDigit(v[i])) return false;
  int y = std::stoi(std::string(v.substr(0, 4)));
  int m = std::stoi(std::string(v.substr(5, 2)));
  int d = std::stoi(std::string(v.substr(8, 2)));
  if (m < 1 || m > 12 || d < 1) return false;
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = days[m - 1] + ((m == 2 && leap) ? 1 : 0);
  return d <= max;
}

bool validTimestamp(std::string_view v) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  if (v.size() < 20 || !validDate(v.substr(0, 10)) || v[10] != 'T' || v.back() != 'Z') return false;
  auto t = v.substr(11, v.size() - 12);
  if (t.size() < 8 || t[2] != ':' || t[5] != ':') return false;
  for (size_t i : {0, 1, 3, 4, 6, 7})
    if (!isDigit(t[i])) return false;
  if (t.size() > 8 && (t[8] != '.' || t.size() == 9 || !allOf(t.substr(9), isDigit))) return false;
  return std::stoi(std::string(t.substr(0, 2))) < 24 &&
         std::stoi(std::string(t.substr(3, 2))) < 60 && std::stoi(std::string(t.substr(6, 2))) < 61;
}

// A journal note: several lines, up to 16 KB (sealed: more).
std::string noteProblem(std::string_view v) {
  if (v.size() > (isSealedValue(v) ? kMaxNoteBytes * 3 / 2 : kMaxNoteBytes))
    return "is longer than 16384 bytes";
  for (char c : v)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
      return "contains a control character";
  return {};
}

// Every other kind: one line of at most 1000 bytes.
std::string lineProblem(std::string_view v) {
  if (v.size() > kMaxValueBytes) return "is longer than 1000 bytes";
  for (char c : v)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "contains a control character";
  return {};
}

std::string phoneProblem(std::string_view v) {
  int digits = 0;
  for (char c : v) {
    if (isDigit(c))
      ++digits;
    else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')' && c != '/')
      return "may contain only digits, spaces and + - ( ) /";
  }
  return digits >= 3 ? "" : "needs at least 3 digits";
}

std::string emailProblem(std::string_view v) {
  auto at = v.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= v.size() ||
      v.find('@', at + 1) != std::string_view::npos || v.find(' ') != std::string_view::npos ||
      v.substr(at + 1).find('.') == std::string_view::npos)
    return "is not an e-mail address (name@domain.tld)";
  return {};
}

std::string fieldListProblem(std::string_view v) {
  size_t start = 0;
  while (start <= v.size()) {
    auto comma = v.find(',', start);
    auto name = v.substr(start, comma == std::string_view::npos ? v.npos : comma - start);
    if (!customerFieldByName(name))
      return "names an unknown customer field '" + std::string(name) + "'";
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return {};
}

// What is wrong with a non-empty one-line value as a `kind`.
std::string formatProblem(ValueKind kind, std::string_view v) {
  switch (kind) {
    case ValueKind::kText:
    case ValueKind::kNote:
      return {};
    case ValueKind::kDigits:
      return allOf(v, isDigit) ? "" : "must contain digits only";
    case ValueKind::kUnsigned:
      return allOf(v, isDigit) && v.size() <= 18 ? "" : "must be a non-negative whole number";
    case ValueKind::kPhone:
      return phoneProblem(v);
    case ValueKind::kEmail:
      return emailProblem(v);
    case ValueKind::kDate:
      return validDate(v) ? "" : "must be a date YYYY-MM-DD";
    case ValueKind::kTimestamp:
      return validTimestamp(v) ? "" : "must be an ISO 8601 UTC time, e.g. 2026-11-23T10:00:00Z";
    case ValueKind::kBool:
      return v == "true" || v == "false" ? "" : "must be true or false";
    case ValueKind::kGender:
      return v == "female" || v == "male" || v == "other" || v == "unknown"
                 ? ""
                 : "must be female, male, other or unknown";
    case ValueKind::kStatus:
      return v == "active" || v == "deactivated" ? "" : "must be active or deactivated";
    case ValueKind::kLanguage:
      return (v.size() == 2 || v.size() == 3) && allOf(v, isLower)
                 ? ""
                 : "must be a 2 or 3 letter lowercase language code";
    case ValueKind::kFieldList:
      return fieldListProblem(v);
  }
  return {};
}

}  // namespace

std::string validateValue(ValueKind kind, std::string_view v) {
  if (!isValidUtf8(v)) return "is not valid UTF-8";
  if (kind == ValueKind::kNote) return noteProblem(v);
  if (auto problem = lineProblem(v); !problem.empty()) return problem;
  if (v.empty()) return {};  // clearing a field is always well-formed
  return formatProblem(kind, v);
}

namespace {
// Why a settings change's write is malformed ("" when it is not).
std::string settingsWriteProblem(const FieldWrite& w) {
  if (w.field == kSettingsUserCode)
    return isValidUserName(w.key) && isValidUserValue(w.value) ? "" : "is a malformed user";
  if (w.field == kSettingsCustomFieldCode)
    return !w.key.empty() && w.key.size() <= 64 && validateValue(ValueKind::kText, w.key).empty() &&
                   parseDefinition(w.value)
               ? ""
               : "is a malformed custom field definition";
  if (w.field == kSettingsCustomerGroupCode || w.field == kSettingsDiscountTypeCode)
    return !w.key.empty() && w.key.size() <= 64 && validateValue(ValueKind::kText, w.key).empty() &&
                   parseCatalogueEntry(w.value)
               ? ""
               : "is a malformed catalogue entry";
  if (w.field >= kSettingsFieldCount || !w.key.empty()) return "is no setting";
  return validateValue(settingsFields()[w.field].kind, w.value);
}
}  // namespace

void validateChange(const Change& c) {
  auto refuse = [&](const std::string& why) {
    throw DecodeError("change " + siteIdToHex(c.id.origin) + ":" + std::to_string(c.id.seq) + " " +
                      why);
  };
  if (c.id.origin == 0) refuse("names no origin site");
  if (c.id.seq == 0 || c.id.seq > (uint64_t(1) << 48)) refuse("has an impossible seq");
  if (c.hlc.packed == 0) refuse("has no clock");
  if (!c.signature.empty() && c.signature.size() != kCheckpointBytes)
    refuse("carries a malformed signature (" + std::to_string(c.signature.size()) + " bytes)");
  if (!c.personalHash.empty()) {
    if (c.personalHash.size() != sizeof(Digest)) refuse("carries a malformed personal-data hash");
    bool blank = c.author.empty();
    for (const FieldWrite& w : c.writes) blank = blank && w.value.empty();
    if (!blank) refuse("is marked erased but still carries personal data");
  }
  if (uint8_t(c.operation) > uint8_t(Operation::kLease))
    refuse("has an unknown operation " + std::to_string(int(c.operation)));
  if (c.author.size() > 256 || !validateValue(ValueKind::kText, c.author).empty())
    refuse("has a malformed author (at most 256 bytes of UTF-8 text)");
  if (!validateValue(ValueKind::kText, c.note).empty()) refuse("has a malformed note");
  // (The decoder already caps the field writes and the versions each replaces.)
  if (c.absorbed.size() > 1000) refuse("absorbs more than 1000 customers");
  const bool settings = c.operation == Operation::kSettings;
  if (c.operation == Operation::kLease) {
    const NumberLease& l = c.lease;
    if (!c.writes.empty() || l.site == 0 || l.first == 0 || l.first > l.last ||
        l.last - l.first >= 10'000'000)
      refuse("leases a malformed block of numbers");
    return;
  }
  if (!settings && c.target.isNull()) refuse("names no customer");
  for (const FieldWrite& w : c.writes) {
    std::string why;
    if (settings) {
      why = settingsWriteProblem(w);
    } else if (w.field < kCustomerFieldCount) {
      if (!w.key.empty()) refuse("writes a field with a key it does not have");
      why = validateValue(customerFields()[w.field].kind, w.value);
    } else if (w.field == kCustomFieldCode) {
      if (w.key.empty() || w.key.size() > 64 || !validateValue(ValueKind::kText, w.key).empty())
        refuse("writes a custom field with a malformed name");
      why = validateValue(ValueKind::kNote, w.value);  // several lines (since protocol 6)
    } else if (w.field == kTechnicianCode) {
      if (!isValidUserName(w.key)) refuse("assigns a technician with a malformed name");
      if (!w.value.empty() && w.value != "true") why = "is not true or empty";
    } else if (auto key = parseElementKey(w.field, w.key)) {
      why = validateValue(elementValueKind(w.field, key->attribute), w.value);
    } else {
      refuse("writes unknown field " + std::to_string(w.field) + " '" + w.key.substr(0, 64) + "'");
    }
    if (!why.empty())
      refuse("writes a value that " + why + " (field " + std::to_string(w.field) + ")");
  }
}

}  // namespace sitesync
