// `sitesync numbers`: this site's automatic customer numbers (the blocks the hub leased it).
#include <iostream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

using nlohmann::json;

struct NumbersArgs {
  std::string data;
  bool json = false;
};

void numbersCommand(const NumbersArgs& a) {
  auto site = openSite(a.data);
  const sync::NumbersReport r = site->engine->numbers();
  json blocks = json::array();
  for (const auto& b : r.blocks)
    blocks.push_back({{"first", b.lease.first},
                      {"last", b.lease.last},
                      {"left", b.left},
                      {"leased_at", b.lease.version.hlc.toIso8601()}});
  json pending = json::array();
  for (RecordId id : r.pending) pending.push_back(id.toString());
  if (a.json) {
    printJson({{"standalone", r.standalone},
               {"hub", r.isHub},
               {"block_size", r.blockSize},
               {"next", r.next ? json(r.next) : json(nullptr)},
               {"left", r.standalone ? json(nullptr) : json(r.left)},
               {"blocks", blocks},
               {"pending", pending},
               {"leased_blocks", r.leasedBlocks}});
    return;
  }
  if (r.standalone) {
    std::cout << "this site has not joined a deployment yet: it numbers alone from " << r.next
              << " (sync with the hub to get number blocks)\n";
  } else if (r.isHub && r.blocks.empty()) {
    std::cout << "no number block yet: the hub leases itself one at its first automatic number\n";
  } else {
    std::cout << r.blocks.size() << " number blocks, " << r.left << " numbers left"
              << (r.next ? ", next " + std::to_string(r.next) : std::string(", none left")) << "\n";
    for (const auto& b : r.blocks)
      std::cout << "  " << b.lease.first << "-" << b.lease.last << "  " << b.left << " left\n";
  }
  if (r.isHub) std::cout << r.leasedBlocks << " blocks leased to all sites\n";
  if (!r.pending.empty())
    std::cout << r.pending.size()
              << " customers wait for a number (they get one when the next block arrives)\n";
}

}  // namespace

void addNumberCommands(CLI::App& app) {
  auto a = std::make_shared<NumbersArgs>();
  auto* numbers = app.add_subcommand(
      "numbers", "this site's blocks of automatic customer numbers, and what is left");
  numbers->add_option("--data", a->data, "data directory of this site")->required();
  numbers->add_flag("--json", a->json, "JSON output");
  numbers->callback([a] { numbersCommand(*a); });
}

}  // namespace sitesync::cli
