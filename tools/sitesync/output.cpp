// Customer, history and settings as JSON and as text for people.
#include <iostream>
#include <map>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

using nlohmann::json;

std::string formatCents(int64_t cents) {
  const uint64_t magnitude = cents < 0 ? uint64_t(-cents) : uint64_t(cents);
  std::string fraction = std::to_string(magnitude % 100);
  if (fraction.size() < 2) fraction.insert(0, "0");
  return (cents < 0 ? "-" : "") + std::to_string(magnitude / 100) + "." + fraction;
}

std::string offeredSettingLine(const sync::OfferedSetting& o) {
  const std::string key = info(o.field).cliName;
  const std::string offered = key + "=" + o.offered;
  switch (o.outcome) {
    case sync::OfferedSetting::Outcome::kKept:
      return offered + ": kept by the hub";
    case sync::OfferedSetting::Outcome::kRefused:
      return offered + ": refused by the hub, the deployment has " + key + "=" + o.deploymentValue;
    case sync::OfferedSetting::Outcome::kWaiting:
      break;
  }
  return offered + ": offered to the hub, not decided yet (sync again)";
}

json offeredSettingsJson(const std::vector<sync::OfferedSetting>& offers) {
  static const char* outcomes[] = {"waiting", "kept", "refused"};
  json list = json::array();
  for (const auto& o : offers)
    list.push_back({{"key", info(o.field).cliName},
                    {"offered", o.offered},
                    {"outcome", outcomes[static_cast<int>(o.outcome)]},
                    {"deployment_value", o.deploymentValue}});
  return list;
}

namespace {

// Linked records: how many of each kind, and the latest of each (`record list` has them all).
void printRecordSummary(const Customer& c) {
  std::map<std::string, std::pair<size_t, sync::CardElement>> byKind;
  for (auto& e : sync::cardElements(c)) {
    if (e.kind != kRecordCode || e.gone()) continue;
    auto& [count, latest] = byKind[e.attribute("kind")];
    if (count++ == 0 || latest.addedAt < e.addedAt) latest = e;
  }
  for (const auto& [kind, seen] : byKind) {
    const auto& [count, e] = seen;
    std::cout << "records " << kind << ": " << count << ", latest " << e.id.toString() << " "
              << e.addedAt.toIso8601().substr(0, 10)
              << (e.attribute("title").empty() ? "" : " " + e.attribute("title"))
              << (e.attribute("status").empty() ? "" : " [" + e.attribute("status") + "]")
              << (e.attribute("units").empty() ? ""
                                               : ", " + std::to_string(e.unitsLeft) + " units left")
              << "\n";
  }
}

}  // namespace

void printCustomer(const Customer& c) {
  std::cout << "id: " << c.id.toString() << "\nstatus: " << displayStatus(c) << "\n";
  for (const auto& f : customerFields()) {
    const auto& v = c.fields[f.code].value;
    if (!v.empty() && f.code != uint16_t(CustomerField::status))
      std::cout << f.cliName << ": " << v << "\n";
  }
  for (const auto& [name, v] : c.customFields)
    if (!v.value.empty()) std::cout << "custom." << name << ": " << v.value << "\n";
  for (const auto& e : sync::cardElements(c)) {
    if (e.gone()) continue;
    auto attr = [&](const char* name) {
      auto it = e.attributes.find(name);
      return it == e.attributes.end() ? std::string() : it->second;
    };
    if (e.kind == kContactCode) {
      std::cout << "contact " << e.id.toString() << ": " << attr("name");
      for (const char* name : {"phone", "email"})
        if (!attr(name).empty()) std::cout << ", " << attr(name);
      if (attr("send_service_protocol") == "true") std::cout << " [service protocol]";
      if (attr("send_work_orders") == "true") std::cout << " [work orders]";
      std::cout << "\n";
    } else if (e.kind == kJournalCode) {
      std::cout << "journal " << e.id.toString() << " " << attr("at") << " by " << attr("author")
                << ":\n";
      std::string text = attr("text");
      size_t start = 0;
      while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        std::cout << "    " << text.substr(start, nl == std::string::npos ? nl : nl - start)
                  << "\n";
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    } else if (e.kind == kRecordCode) {
      continue;  // counted below
    } else {
      std::cout << "discount " << e.id.toString() << ": " << attr("type") << ", value "
                << formatCents(std::stoll("0" + attr("value_cents"))) << ", balance "
                << formatCents(e.balanceCents) << (e.balanceCents < 0 ? " (OVERDRAWN)" : "")
                << (attr("valid_until").empty() ? "" : ", valid until " + attr("valid_until"))
                << ", " << e.usages.size() << " usage" << (e.usages.size() == 1 ? "" : "s") << "\n";
    }
  }
  printRecordSummary(c);
  if (c.hasOpenConflicts())
    std::cout << "open conflicts: see `sitesync conflicts list` (concurrent values kept)\n";
}

void printCustomerLine(const Customer& c) {
  const std::string& number = c.value(CustomerField::number);
  std::cout << c.id.toString() << "  " << (number.empty() ? "(number pending)" : "#" + number)
            << "  " << c.value(CustomerField::name) << "  " << c.value(CustomerField::phone) << "  "
            << c.value(CustomerField::email) << "  " << displayStatus(c) << "\n";
}

}  // namespace sitesync::cli
