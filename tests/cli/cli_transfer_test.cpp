// `sitesync customer import|export` end to end: CSV files written here, the built binary run on
// them, the register read back through `customer show|list --json`.
#include <fstream>

#include "tests/cli/cli_support.h"

namespace {

struct TransferFixture : Cli {
  TransferFixture() { init(); }

  // Writes `text` as the file `name` under the test's directory; returns its path.
  std::string file(const std::string& name, const std::string& text) {
    const std::string path = (root / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  RunResult import(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"customer", "import", "--data", data, path};
    args.insert(args.end(), extra.begin(), extra.end());
    return runv(args);
  }
  // An import with refused rows: exit 2, the rows in the report on stdout, one line on stderr.
  static void expectRefused(const RunResult& r, const std::vector<std::string>& report,
                            const std::string& summary) {
    BOOST_TEST(r.status == 2, r);
    for (const auto& m : report) BOOST_TEST(contains(r.out, m), "'" << m << "' not in: " << r.out);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r);
    BOOST_TEST(contains(r.err, summary), r);
  }
  json importJson(const std::string& path, std::vector<std::string> extra = {}) {
    extra.push_back("--json");
    RunResult r = import(path, extra);
    BOOST_TEST_REQUIRE(json::accept(r.out), r);
    return json::parse(r.out);
  }
};

// A salon's upload: Finnish headers, ';', a byte-order mark, dates as people type them.
const std::string kFinnish =
    "\xEF\xBB\xBF"
    "Asiakasnumero;Etunimi;Sukunimi;Puhelin;S\xC3\xA4hk\xC3\xB6posti;Syntym\xC3\xA4"
    "aika;Huomio\n"
    "5001;Aino;Virtanen;+358 40 123 4567;aino@example.fi;31.12.1980;\n"
    "5002;Jussi;\"Kallio; Jr\";not a phone;;;\n"
    "5003;Maija;M\xC3\xA4kinen;040 765 4321;;1.2.1975;\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_FIXTURE_TEST_CASE(an_import_maps_aliased_headers_and_reports_a_bad_row_by_its_line,
                        TransferFixture) {
  const std::string path = file("salon.csv", kFinnish);
  json report = importJson(path);
  BOOST_TEST(report["delimiter"] == ";");
  BOOST_TEST(report["columns"]["Etunimi"] == "first_name");
  BOOST_TEST(report["ignored_columns"] == json::array({"Huomio"}));
  BOOST_TEST(report["created"] == 2);
  BOOST_TEST_REQUIRE(report["refused"].size() == 1u, report.dump());
  BOOST_TEST(report["refused"][0]["line"] == 3);
  BOOST_TEST(report["refused"][0]["reason"].get<std::string>().find("phone") != std::string::npos);
  json aino = show("#5001");
  BOOST_TEST(aino["name"] == "Aino Virtanen");
  BOOST_TEST(aino["birth_date"] == "1980-12-31");
  BOOST_TEST(show("#5003")["birth_date"] == "1975-02-01");
  expectRefused(import(path), {"line 3: phone"}, "1 of 3 rows refused");
}

BOOST_FIXTURE_TEST_CASE(importing_the_same_file_again_changes_nothing, TransferFixture) {
  const std::string path = file("plain.csv",
                                "number,name,phone\n7001,Anna Berg,0401111111\n"
                                "7002,Bo Ek,0402222222\n");
  BOOST_TEST_REQUIRE(import(path).status == 0);
  const std::string before = state();
  json again = importJson(path);
  BOOST_TEST(again["match"] == "number");
  BOOST_TEST(again["unchanged"] == 2);
  BOOST_TEST(again["created"] == 0);
  BOOST_TEST(state() == before);
  // A changed cell updates the customer the row's number names.
  file("plain.csv", "number,name,phone\n7001,Anna Berg,0409999999\n");
  BOOST_TEST(importJson(path)["updated"] == 1);
  BOOST_TEST(show("#7001")["phone"] == "0409999999");
}

BOOST_FIXTURE_TEST_CASE(strict_and_dry_run_write_nothing, TransferFixture) {
  const std::string path = file("salon.csv", kFinnish);
  const std::string before = state();
  expectRefused(import(path, {"--strict"}), {"line 3: phone", "--strict: nothing written"},
                "nothing written");
  BOOST_TEST(state() == before);
  expectRefused(import(path, {"--dry-run"}), {"line 3: phone", "would import"}, "nothing written");
  BOOST_TEST(state() == before);
  const std::string good = file("good.csv", "name\nOnly Good\n");
  RunResult dry = import(good, {"--dry-run"});
  BOOST_TEST(dry.status == 0, dry);
  BOOST_TEST(contains(dry.out, "would import 1 rows: 1 created"));
  BOOST_TEST(state() == before);
  BOOST_TEST(import(good, {"--strict"}).status == 0);
  BOOST_TEST(runJson("customer", "search", "--data", data, "Only Good", "--json").size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_external_id_column_mapped_by_hand_matches_rows_to_customers,
                        TransferFixture) {
  const std::string path = file("crm.csv", "Client ID,Full Name,Tel\nC-1,Ada Lind,0403333333\n");
  json first = importJson(path, {"--map", "Client ID=external_id", "--match", "external_id"});
  BOOST_TEST(first["created"] == 1);
  file("crm.csv", "Client ID,Full Name,Tel\nC-1,Ada Lind,0404444444\n");
  json second = importJson(path, {"--map", "Client ID=external_id", "--match", "external_id"});
  BOOST_TEST(second["updated"] == 1);
  json found = runJson("customer", "search", "--data", data, "Ada Lind", "--json");
  BOOST_TEST_REQUIRE(found.size() == 1u);
  BOOST_TEST(found[0]["phone"] == "0404444444");
}

BOOST_FIXTURE_TEST_CASE(bad_options_and_broken_files_are_usage_errors_naming_what_is_wrong,
                        TransferFixture) {
  const std::string before = state();
  const std::string path = file("a.csv", "name\nX\n");
  expectError(import(path, {"--match", "shoe_size"}), 2, {"--match", "shoe_size"});
  expectError(import(path, {"--map", "name=shoe_size"}), 2, {"shoe_size"});
  expectError(import(path, {"--map", "Nope=name"}), 2, {"no column", "Nope"});
  expectError(import(path, {"--match", "email"}), 2, {"--match email", "no column"});
  expectError(import(file("open.csv", "name\n\"never closed\n")), 2, {"line 2", "quoted"});
  expectError(import((root / "missing.csv").string()), 2, {"cannot read"});
  expectError(run("customer", "export", "--data", data, "--fields", "name,shoe_size"), 2,
              {"shoe_size"});
  BOOST_TEST(state() == before);
}

BOOST_FIXTURE_TEST_CASE(an_export_imported_into_a_new_site_gives_the_same_customers,
                        TransferFixture) {
  const std::vector<std::string> names = {
      "S\xC3\xB8ren \"Bj\xC3\xB8rn\" J\xC3\xB8rgensen, \xC3\x86r\xC3\xB8",  // Danish
      "Ren\xC3\xA9 van 't Hoff, IJsselmonde",                               // Dutch
      "\xC3\x85sa \xC3\x96stberg; \"Lill-\xC3\x85sa\"",                     // Swedish
      "J\xC3\xBCrgen Gro\xC3\x9F, M\xC3\xBCnchen",                          // German
      "V\xC3\xA4in\xC3\xB6 \xC3\x84ij\xC3\xA4l\xC3\xA4, \"Ukko\""};         // Finnish
  for (size_t i = 0; i < names.size(); ++i)
    add(names[i], "--phone", "040 555 000" + std::to_string(i), "--set",
        "custom.note=first line, \"quoted\"\nsecond line", "--set",
        "invoice_city=City " + std::to_string(i));
  for (const bool excel : {false, true}) {
    RunResult exported = excel ? run("customer", "export", "--data", data, "--excel")
                               : run("customer", "export", "--data", data);
    BOOST_TEST_REQUIRE(exported.status == 0, exported);
    BOOST_TEST(exported.out.starts_with("\xEF\xBB\xBF") == excel);
    Cli other;
    other.init("Other");
    RunResult imported = other.run("customer", "import", "--data", other.data,
                                   file(excel ? "x.csv" : "c.csv", exported.out), "--json");
    BOOST_TEST_REQUIRE(imported.status == 0, imported);
    json mine = runJson("customer", "list", "--data", data, "--json");
    json theirs = other.runJson("customer", "list", "--data", other.data, "--json");
    BOOST_TEST_REQUIRE(mine.size() == theirs.size());
    for (size_t i = 0; i < mine.size(); ++i) {
      json a = show(mine[i]["id"].get<std::string>()),
           b = other.show("#" + a["number"].get<std::string>());
      for (const char* field : {"name", "phone", "invoice_city", "number"})
        BOOST_TEST(a[field] == b[field], field << ": " << a[field] << " vs " << b[field]);
      BOOST_TEST(a["custom"] == b["custom"], a["custom"] << " vs " << b["custom"]);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
