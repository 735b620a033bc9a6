// `sitesync customer import|export`: customers from and to CSV (tools/transfer).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "tools/sitesync/cli.h"
#include "transfer/transfer.h"

namespace sitesync::cli {

namespace {

struct TransferArgs {
  std::string data;
  std::string file;
  std::vector<std::string> maps;
  std::string match;
  std::string user = defaultUser();
  bool dryRun = false, strict = false, json = false;
  bool all = false, deleted = false, excel = false;
  std::vector<std::string> fields;
};

// "rows  rate  ETA" on one line of a terminal, redrawn; nothing when stderr is not a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(uint64_t fileBytes)
      : shown_(isatty(STDERR_FILENO) == 1),
        bytes_(fileBytes),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressLine() {
    if (drawn_) std::cerr << "\n";
  }
  void update(const transfer::ImportProgress& p) {
    if (!shown_) return;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? double(p.rows) / seconds : 0;
    const double done = bytes_ > 0 ? std::min(1.0, double(p.bytesRead) / double(bytes_)) : 1.0;
    const double eta = done > 0 ? seconds * (1 - done) / done : 0;
    std::fprintf(stderr, "\r%3.0f%%  %llu rows  %.0f rows/s  ETA %.0f s   ", done * 100,
                 static_cast<unsigned long long>(p.rows), rate, eta);
    drawn_ = true;
  }

 private:
  bool shown_;
  uint64_t bytes_;
  std::chrono::steady_clock::time_point start_;
  bool drawn_ = false;
};

void printReport(const TransferArgs& a, const transfer::ImportReport& r) {
  if (a.json) return printJson(api::importReportJson(r, a.dryRun));
  for (const auto& e : r.refused) std::cout << "line " << e.line << ": " << e.reason << "\n";
  if (!r.ignoredColumns.empty()) {
    std::cout << "columns left out:";
    for (const auto& c : r.ignoredColumns) std::cout << " '" << c << "'";
    std::cout << " (--map COLUMN=FIELD imports one)\n";
  }
  const bool wroteNothing = a.dryRun || (a.strict && !r.refused.empty());
  std::cout << (wroteNothing ? "would import " : "imported ") << r.rows << " rows: " << r.created
            << " created, " << r.updated << " updated, " << r.unchanged << " unchanged, "
            << r.refused.size() << " refused (matched by " << transfer::matchByName(r.match) << ")"
            << (a.strict && !r.refused.empty() ? "; --strict: nothing written" : "") << "\n";
}

void importCommand(const TransferArgs& a) {
  transfer::ImportOptions options;
  options.dryRun = a.dryRun;
  options.strict = a.strict;
  options.author = a.user;
  if (!a.match.empty()) {
    options.match = transfer::matchByNamed(a.match);
    if (!options.match)
      throw UsageError("--match is number, email or external_id, not '" + a.match + "'");
  }
  for (const std::string& m : a.maps) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--map takes COLUMN=FIELD, not '" + m + "'");
    options.columnFields[m.substr(0, eq)] = m.substr(eq + 1);
  }
  std::ifstream in(a.file, std::ios::binary);
  if (!in) throw UsageError("cannot read " + a.file);
  in.seekg(0, std::ios::end);
  const auto size = uint64_t(std::max<std::streamoff>(0, in.tellg()));
  in.seekg(0);
  auto site = openSite(a.data);
  transfer::ImportReport report;
  {
    ProgressLine progress(size);
    try {
      report = transfer::importCustomers(*site->engine, in, options,
                                         [&](const auto& p) { progress.update(p); });
    } catch (const storage::StoreError&) {
      throw;
    } catch (const Error& e) {
      throw UsageError(a.file + ": " + e.what());
    }
  }
  printReport(a, report);
  if (!report.refused.empty())
    throw UsageError(std::to_string(report.refused.size()) + " of " + std::to_string(report.rows) +
                     " rows refused (" +
                     (a.dryRun || a.strict ? "nothing written" : "the others imported") +
                     "): fix the lines listed and import the file again");
}

void exportCommand(const TransferArgs& a) {
  transfer::ExportOptions options{a.all, a.deleted, a.fields, a.excel};
  auto site = openSite(a.data);
  std::ios::sync_with_stdio(false);
  auto written = transfer::exportCustomers(*site->engine, std::cout, options);
  if (!written.isOk()) throw UsageError(written.status().message());
  std::cout.flush();
  if (!std::cout) throw Failure("cannot write the export (disk full, or the pipe closed?)");
}

}  // namespace

void addTransferCommands(CLI::App& customer) {
  auto a = std::make_shared<TransferArgs>();
  auto* import = customer.add_subcommand(
      "import",
      "import customers from CSV (header row; ',' or ';'; UTF-8 with or without BOM); a row "
      "matching a customer updates it, others create one; rows with errors are reported and "
      "skipped");
  import->add_option("--data", a->data, "data directory")->required();
  import->add_option("FILE", a->file, "the CSV file")->required();
  import->add_option("--map", a->maps,
                     "COLUMN=FIELD: import a column as a field ('-': not at all)");
  import->add_option("--match", a->match,
                     "number|email|external_id: update the customer a row names (default: number "
                     "when a column holds it)");
  import->add_flag("--dry-run", a->dryRun, "check every row, write nothing");
  import->add_flag("--strict", a->strict, "write nothing if any row is refused");
  import->add_option("--user", a->user, "who makes the changes (default: $SITESYNC_USER or $USER)");
  import->add_flag("--json", a->json, "JSON report");
  import->callback([a] { importCommand(*a);
});

auto* exp = customer.add_subcommand(
    "export", "write customers as CSV to stdout: every field, custom fields and addresses");
exp->add_option("--data", a->data, "data directory")->required();
exp->add_flag("--all", a->all, "deactivated customers too");
exp->add_flag("--deleted", a->deleted, "deleted customers too (a `deleted` column says which)");
exp->add_option("--fields", a->fields, "these columns only, in this order (comma-separated)")
    ->delimiter(',');
exp->add_flag("--excel", a->excel, "for spreadsheet programs: a byte-order mark and ';'");
exp->callback([a] { exportCommand(*a); });
}  // namespace sitesync::cli

}  // namespace sitesync::cli
