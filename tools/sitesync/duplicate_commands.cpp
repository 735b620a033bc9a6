// `sitesync customer duplicates`: customers likely to be one person (Reads::possibleDuplicates),
// and the warning `customer add` gives when the new one looks like someone already there.
#include <cstdio>
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct DuplicateArgs {
  std::string data;
  size_t limit = 100;
  bool json = false;
};

std::string reasonsText(const sync::DuplicatePair& d) {
  std::string text;
  for (const auto& r : d.reasons) text += (text.empty() ? "" : ", ") + r;
  return text;
}

// The pair as its JSON names it (api::duplicatePairJson): "0.90  ID Name  /  ID Name: reasons".
std::string pairLine(const nlohmann::json& j, const sync::DuplicatePair& d) {
  char score[16];
  std::snprintf(score, sizeof score, "%.2f", d.score);
  return std::string(score) + "  " + j["customers"][0].get<std::string>() + " " +
         j["names"][0].get<std::string>() + "  /  " + j["customers"][1].get<std::string>() + " " +
         j["names"][1].get<std::string>() + ": " + reasonsText(d);
}

void duplicatesCommand(const DuplicateArgs& a) {
  auto site = openSite(a.data);
  const auto pairs = site->engine->possibleDuplicates(a.limit);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : pairs) out.push_back(api::duplicatePairJson(*site->engine, d));
  if (a.json) return printJson(out);
  if (pairs.empty()) std::cout << "no likely duplicates\n";
  for (size_t i = 0; i < pairs.size(); ++i) std::cout << pairLine(out[i], pairs[i]) << "\n";
}

}  // namespace

void warnOfDuplicates(const sync::Engine& engine, RecordId added) {
  for (const auto& d : engine.duplicatesOf(added)) {
    const nlohmann::json j = api::duplicatePairJson(engine, d);
    const size_t other = d.first == added ? 1 : 0;
    std::cerr << "note: customer " << added.toString() << " may be the same person as "
              << j["customers"][other].get<std::string>() << " ("
              << j["names"][other].get<std::string>() << "): " << reasonsText(d)
              << "; `sitesync customer merge` joins them\n";
  }
}

void addDuplicateCommands(CLI::App& customer) {
  auto a = std::make_shared<DuplicateArgs>();
  auto* cmd = customer.add_subcommand(
      "duplicates",
      "pairs of customers likely to be one person, best first: the same SSN, e-mail, phone, name "
      "and birth date, or name");
  cmd->add_option("--data", a->data, "data directory")->required();
  cmd->add_option("--limit", a->limit, "at most this many pairs (default 100)");
  cmd->add_flag("--json", a->json, "JSON output");
  cmd->callback([a] { duplicatesCommand(*a); });
}

}  // namespace sitesync::cli
