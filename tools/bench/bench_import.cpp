// `sitesync-bench import`: a generated CSV of N customers imported into a new site through
// `customer import`'s code (tools/transfer), then imported again (every row matched, unchanged).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tools/bench/bench_util.h"
#include "transfer/transfer.h"

namespace sitesync::bench {

namespace {

// Rows like a salon's register: number, name, phone, e-mail, birth date, city, a custom field.
void writeCsv(const std::string& path, uint64_t rows) {
  std::ofstream out(path, std::ios::binary);
  out << "Asiakasnumero;Etunimi;Sukunimi;Puhelin;Sähköposti;Syntymäaika;Kaupunki;custom.source\n";
  for (uint64_t i = 0; i < rows; ++i)
    out << 100000 + i << ";Aino" << i % 977 << ";Virtanen-" << i << ";+35840" << 1000000 + i
        << ";aino." << i << "@example.fi;" << 1 + i % 28 << "." << 1 + i % 12 << "."
        << 1940 + i % 60 << ";\"Helsinki; Töölö\";import\n";
}

struct ImportArgs {
  std::string data;
  uint64_t rows = 1000000;
  bool json = false;
};

void benchImport(const ImportArgs& args) {
  namespace fs = std::filesystem;
  fs::remove_all(args.data);
  fs::create_directories(args.data + "/site");
  const std::string csv = args.data + "/customers.csv";
  writeCsv(csv, args.rows);
  auto store = storage::Store::open(args.data + "/site", storage::Options{uint64_t(4) << 30});
  sync::SystemClock clock;
  check(sync::Engine::initialize(*store, clock, sync::SiteKey::generate(), "bench", false));
  sync::Engine engine(*store, clock);
  transfer::ImportOptions options;
  options.author = "bench";
  nlohmann::json result = {{"rows", args.rows}, {"file_bytes", fs::file_size(csv)}};
  for (const char* pass : {"first", "again"}) {
    std::ifstream in(csv, std::ios::binary);
    const auto start = Clock::now();
    const transfer::ImportReport report = transfer::importCustomers(engine, in, options);
    const double seconds = secondsSince(start);
    result[pass] = {{"seconds", seconds},
                    {"rows_per_s", double(args.rows) / seconds},
                    {"created", report.created},
                    {"unchanged", report.unchanged},
                    {"refused", report.refused.size()}};
    if (!report.refused.empty())
      throw Failure("line " + std::to_string(report.refused[0].line) + ": " +
                    report.refused[0].reason);
  }
  result["store_mb"] = double(fs::file_size(args.data + "/site/data.mdb")) / 1e6;
  if (args.json) return printJson(result);
  std::cout << "import of " << args.rows << " rows: " << result["first"]["seconds"] << " s ("
            << result["first"]["rows_per_s"]
            << " rows/s); again, every row matched: " << result["again"]["seconds"] << " s\n";
}

}  // namespace

void addImportCommand(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand(
      "import", "`customer import` of a generated CSV into a new site, then the same file again");
  cmd->add_option("--data", a->data, "scratch directory (emptied first)")->required();
  cmd->add_option("--rows", a->rows, "rows in the file (default 1000000)");
  cmd->add_flag("--json", a->json, "print the figures as one JSON object");
  cmd->callback([a] { benchImport(*a); });
}

}  // namespace sitesync::bench
