// The hub's PostgreSQL mirror (`serve --postgres`, `mirror status`) against a real PostgreSQL
// 15 started for each test: the register's rows arrive typed and follow live edits, merges and
// erasure; a node or a PostgreSQL killed mid-way resumes without loss or duplicates; a wrong
// DSN, a database that goes away or a table altered by hand is a log line, never a stop.
#include <openssl/evp.h>

#include <fstream>

#include "tests/cli/postgres_server.h"
#include "tests/cli/serve_process.h"

namespace {

std::string md5Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_md5(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string textOr(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// Each mirrored table's rows as text lines, by id (bytes), hashed: what the register holds
// (`customer list --json`, live, deactivated and deleted) and what PostgreSQL holds.
struct Checksums {
  std::string customers, contacts, journal, cards;
  size_t customerCount = 0;
  bool operator==(const Checksums&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Checksums& c) {
  return out << c.customerCount << " customers " << c.customers << " contacts " << c.contacts
             << " journal " << c.journal << " cards " << c.cards;
}

Checksums registerChecksums(Cli& cli, const std::string& data) {
  std::vector<json> all;
  for (const char* which : {"--all", "--deleted"})
    for (const auto& c : cli.runJson("customer", "list", "--data", data, which, "--json"))
      all.push_back(c);
  std::vector<std::string> customers, contacts, journal, cards;
  for (const auto& c : all) {
    const std::string id = c["id"];
    customers.push_back(id + "|" + textOr(c, "number") + "|" + textOr(c, "name") + "|" +
                        textOr(c, "phone") + "|" + textOr(c, "birth_date"));
    for (const auto& e : c["contacts"])
      contacts.push_back(std::string(e["id"]) + "|" + id + "|" + textOr(e, "name") + "|" +
                         textOr(e, "phone"));
    for (const auto& e : c["journal"])
      journal.push_back(std::string(e["id"]) + "|" + id + "|" + textOr(e, "text"));
    for (const auto& e : c["discounts"])
      cards.push_back(std::string(e["id"]) + "|" + id + "|" + e["balance_cents"].dump());
  }
  auto hash = [](std::vector<std::string> lines) {
    // By id, as PostgreSQL orders them ("x-1" before "x-10", whatever follows it).
    std::sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
      return a.substr(0, a.find('|')) < b.substr(0, b.find('|'));
    });
    std::string text;
    for (const auto& l : lines) text += (text.empty() ? "" : "\n") + l;
    return md5Hex(text);
  };
  return {hash(customers), hash(contacts), hash(journal), hash(cards), all.size()};
}

Checksums mirrorChecksums(const TempPostgres& pg) {
  auto hash = [&](const std::string& line, const std::string& table) {
    return pg.query("SELECT md5(coalesce(string_agg(" + line +
                    ", E'\\n' ORDER BY id COLLATE \"C\"), '')) FROM " + table);
  };
  return {hash("id||'|'||number||'|'||name||'|'||coalesce(phone,'')||'|'||"
               "coalesce(birth_date::text,'')",
               "customers"),
          hash("id||'|'||customer_id||'|'||coalesce(name,'')||'|'||coalesce(phone,'')", "contacts"),
          hash("id||'|'||customer_id||'|'||coalesce(text,'')", "journal"),
          hash("id||'|'||customer_id||'|'||balance_cents", "discount_cards"),
          std::stoul(pg.query("SELECT count(*) FROM customers"))};
}

// Waits until `mirror status` says PostgreSQL holds the whole log (within 60 s).
void waitCaughtUp(Cli& cli, const std::string& data) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  json s;
  while (std::chrono::steady_clock::now() < deadline) {
    const RunResult r = cli.run("mirror", "status", "--data", data, "--json");
    if (r.status == 0) {
      s = json::parse(r.out);
      if (s["started"] == true && s["behind_changes"] == 0) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_FAIL("the mirror did not catch up in 60 s: " << s.dump());
}

void importCustomers(Cli& cli, const std::string& data, int count, const std::string& prefix) {
  const fs::path csv = cli.root / (prefix + ".csv");
  {
    std::ofstream out(csv);
    out << "name,phone,birth_date\n";
    for (int i = 0; i < count; ++i)
      out << prefix << " Person " << i << ",040 " << 1000000 + i << ",19" << 50 + i % 50 << "-0"
          << 1 + i % 9 << "-1" << i % 10 << "\n";
  }
  const RunResult r = cli.run("customer", "import", "--data", data, csv.string());
  BOOST_TEST_REQUIRE(r.status == 0, r);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mirror)

BOOST_FIXTURE_TEST_CASE(a_hub_mirrors_its_register_typed_and_follows_edits_merges_and_erasure,
                        Cli) {
  TempPostgres pg;
  BOOST_TEST_REQUIRE(run("init", "--data", data, "--site", "HQ", "--hub").status == 0);
  importCustomers(*this, data, 300, "Imported");
  const std::string aino = add("Aino Virtanen", "--phone", "040 123", "--set", "newsletter=true",
                               "--set", "data_protection_accepted=2026-11-23T10:00:00Z");
  BOOST_TEST_REQUIRE(
      run("customer", "contact", "add", "--data", data, aino, "--name", "Matti", "--phone", "050 1")
          .status == 0);
  BOOST_TEST_REQUIRE(run("customer", "journal", "add", "--data", data, aino, "--text",
                         "called back\n\tabout the \\ invoice")
                         .status == 0);
  const RunResult card = run("customer", "discount", "add", "--data", data, aino, "--type",
                             "value card", "--value", "100.00", "--price", "90");
  BOOST_TEST_REQUIRE(card.status == 0, card);
  BOOST_TEST_REQUIRE(run("customer", "discount", "use", "--data", data, aino, trimNewline(card.out),
                         "--amount", "12.50")
                         .status == 0);

  ServeProcess serving(data, {"--postgres", pg.dsn()}, true);
  waitCaughtUp(*this, data);
  BOOST_TEST(mirrorChecksums(pg) == registerChecksums(*this, data));
  BOOST_TEST(mirrorChecksums(pg).customerCount == 301u);
  // Typed columns, money as numeric, and the indexes HQ's queries need.
  BOOST_TEST(pg.query("SELECT newsletter::text || ' ' || data_protection_accepted::text FROM "
                      "customers WHERE id = '" +
                      aino + "'") == "true 2026-11-23 10:00:00+00");
  BOOST_TEST(pg.query("SELECT pg_typeof(birth_date)::text FROM customers LIMIT 1") == "date");
  BOOST_TEST(pg.query("SELECT balance::text FROM discount_cards") == "87.50");
  BOOST_TEST(pg.query("SELECT amount::text FROM card_usages") == "12.50");
  BOOST_TEST(pg.query("SELECT count(*) FROM pg_indexes WHERE indexname IN ('customers_number', "
                      "'customers_phone', 'customers_name', 'customers_pkey')") == "4");
  BOOST_TEST(pg.query("SELECT name FROM sites WHERE this_node") == "HQ");

  // Live: an edit, a merge, an erasure and a delete arrive as they are in the register.
  BOOST_TEST_REQUIRE(
      run("customer", "edit", "--data", data, aino, "--set", "phone=040 999").status == 0);
  const std::string merged = show("#1000")["id"];
  BOOST_TEST_REQUIRE(run("customer", "merge", "--data", data, "#1000", "--into", aino).status == 0);
  const std::string erased = show("#1001")["id"];
  BOOST_TEST_REQUIRE(run("customer", "erase", "--data", data, "#1001").status == 0);
  BOOST_TEST_REQUIRE(run("customer", "delete", "--data", data, "#1002").status == 0);
  waitCaughtUp(*this, data);
  BOOST_TEST(mirrorChecksums(pg) == registerChecksums(*this, data));
  BOOST_TEST(pg.query("SELECT phone FROM customers WHERE id = '" + aino + "'") == "040 999");
  BOOST_TEST(pg.query("SELECT count(*) FROM customers WHERE id = '" + merged + "'") == "0");
  BOOST_TEST(pg.query("SELECT count(*) FROM customers WHERE id = '" + erased +
                      "' OR name = 'Imported Person 1'") == "0");
  BOOST_TEST(pg.query("SELECT status FROM customers WHERE number = '1002'") == "deleted");
  // A date the register takes and PostgreSQL's calendar has not (year 0) is NULL there, and the
  // mirror goes on.
  const std::string yearZero = add("Year Zero", "--set", "birth_date=0000-01-01");
  waitCaughtUp(*this, data);
  BOOST_TEST(pg.query("SELECT birth_date IS NULL FROM customers WHERE id = '" + yearZero + "'") ==
             "t");
  const RunResult status = run("mirror", "status", "--data", data);
  BOOST_TEST(status.status == 0, status);
  BOOST_TEST(contains(status.out, "(0 changes behind)"), status);
}

BOOST_FIXTURE_TEST_CASE(a_node_or_a_postgresql_killed_mid_mirror_resumes_without_loss_or_duplicates,
                        Cli) {
  TempPostgres pg;
  BOOST_TEST_REQUIRE(run("init", "--data", data, "--site", "HQ", "--hub").status == 0);
  importCustomers(*this, data, 20000, "First");
  {
    ServeProcess serving(data, {"--postgres", pg.dsn()}, true);
    serving.waitForLog("mirroring the register", std::chrono::seconds(10));
    serving.kill9();  // most likely while the first COPY runs
  }
  importCustomers(*this, data, 500, "While Down");
  {
    ServeProcess serving(data, {"--postgres", pg.dsn()}, true);
    waitCaughtUp(*this, data);
    BOOST_TEST(mirrorChecksums(pg) == registerChecksums(*this, data));
    BOOST_TEST(mirrorChecksums(pg).customerCount == 20500u);
    // PostgreSQL crashes while customers arrive; the node goes on and the mirror catches up.
    for (int i = 0; i < 12; ++i) {
      if (i == 4) pg.kill9();
      if (i == 8) pg.start();
      add("Live Person " + std::to_string(i));
    }
    serving.waitForLog("mirror to PostgreSQL resumed", std::chrono::seconds(90));
    waitCaughtUp(*this, data);
    BOOST_TEST(mirrorChecksums(pg) == registerChecksums(*this, data));
    BOOST_TEST(mirrorChecksums(pg).customerCount == 20512u);
  }
}

BOOST_FIXTURE_TEST_CASE(a_table_altered_by_hand_is_said_and_made_again_and_the_mirror_resumes,
                        Cli) {
  TempPostgres pg;
  BOOST_TEST_REQUIRE(run("init", "--data", data, "--site", "HQ", "--hub").status == 0);
  importCustomers(*this, data, 50, "Some");
  ServeProcess serving(data, {"--postgres", pg.dsn()}, true);
  waitCaughtUp(*this, data);
  pg.query("ALTER TABLE customers ALTER COLUMN birth_date TYPE text");
  pg.query("ALTER TABLE contacts DROP COLUMN phone");
  const std::string log = serving.waitForLog("made again", std::chrono::seconds(30));
  BOOST_TEST(contains(log, "column customers.birth_date is text, not date"), log);
  const std::string id = add("After The Change");
  BOOST_TEST_REQUIRE(
      run("customer", "contact", "add", "--data", data, id, "--name", "Pia", "--phone", "050 2")
          .status == 0);
  waitCaughtUp(*this, data);
  BOOST_TEST(mirrorChecksums(pg) == registerChecksums(*this, data));
  BOOST_TEST(pg.query("SELECT pg_typeof(birth_date)::text FROM customers LIMIT 1") == "date");
}

BOOST_FIXTURE_TEST_CASE(a_wrong_dsn_is_a_log_line_and_the_node_keeps_syncing, Cli) {
  BOOST_TEST_REQUIRE(run("init", "--data", data, "--site", "HQ", "--hub").status == 0);
  add("Aino Virtanen");
  const std::string dsn = "host=127.0.0.1 port=" + std::to_string(freeLoopbackPort()) +
                          " user=sitesync password=s3cret dbname=hq connect_timeout=2";
  ServeProcess serving(data, {"--postgres", dsn}, true);
  const std::string log =
      serving.waitForLog("mirror to PostgreSQL failed", std::chrono::seconds(20));
  BOOST_TEST(contains(log, "cannot connect to PostgreSQL"), log);
  BOOST_TEST(!contains(log, "s3cret"), log);
  const std::string branch = (root / "branch").string();
  const RunResult joined =
      run("join", "--data", branch, "--site", "Branch Oulu", "--hub", serving.endpoint());
  BOOST_TEST(joined.status == 0, joined);
  expectError(run("mirror", "status", "--data", data), 1, {"cannot connect to PostgreSQL"});
  expectError(run("mirror", "status", "--data", branch), 2, {"serve --postgres"});
}

BOOST_FIXTURE_TEST_CASE(the_mirror_benchmark_copies_a_hub_and_times_live_changes, Cli) {
  TempPostgres pg;
  const RunResult r = runBench("mirror", "--data", (root / "bench").string(), "--postgres",
                               pg.dsn(), "--customers", "300", "--live", "5", "--json");
  BOOST_TEST_REQUIRE(r.status == 0, r);
  const json figures = json::parse(r.out);
  BOOST_TEST(figures["customers"] == 300);
  BOOST_TEST(figures["live_changes"] == 5);
  BOOST_TEST(figures["live_p99_ms"].get<double>() > 0);
  BOOST_TEST(pg.query("SELECT count(*) FROM customers") == "305");
}

BOOST_AUTO_TEST_SUITE_END()
