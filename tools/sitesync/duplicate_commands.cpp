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

std::string nameOf(const sync::Engine& engine, RecordId id) {
  auto c = engine.customer(id);
  return c ? c->value(CustomerField::name) : std::string();
}

void duplicatesCommand(const DuplicateArgs& a) {
  auto site = openSite(a.data);
  const auto pairs = site->engine->possibleDuplicates(a.limit);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : pairs) out.push_back(api::duplicatePairJson(*site->engine, d));
    printJson(out);
    return;
  }
  if (pairs.empty()) std::cout << "no likely duplicates\n";
  for (const auto& d : pairs) {
    char score[16];
    std::snprintf(score, sizeof score, "%.2f", d.score);
    std::cout << score << "  " << d.first.toString() << " " << nameOf(*site->engine, d.first)
              << "  /  " << d.second.toString() << " " << nameOf(*site->engine, d.second) << ": "
              << reasonsText(d) << "\n";
  }
}

}  // namespace

void warnOfDuplicates(const sync::Engine& engine, RecordId added) {
  for (const auto& d : engine.duplicatesOf(added)) {
    const RecordId other = d.first == added ? d.second : d.first;
    std::cerr << "note: customer " << added.toString() << " may be the same person as "
              << other.toString() << " (" << nameOf(engine, other) << "): " << reasonsText(d)
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
