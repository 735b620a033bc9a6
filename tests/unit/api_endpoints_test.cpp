// docs/openapi.yaml describes exactly what the API serves: the endpoints a real ApiServer
// registers, each "METHOD /path/regex", against the paths and operations the document lists.
// (tests/python/openapi_test.py checks the document itself and each operation's answers.)
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "api/api.h"
#include "tests/unit/sync_fixture.h"

namespace {

// A server pattern as the paths it matches, with each capture written "{}":
// "/v1/customers/([0-9a-f]{16}-[0-9]+)/(?:cards|discounts)" -> ".../{}/cards", ".../{}/discounts".
std::vector<std::string> pathsOf(const std::string& pattern) {
  const size_t alternatives = pattern.find("(?:");
  if (alternatives != std::string::npos) {
    const size_t close = pattern.find(')', alternatives);
    std::vector<std::string> out;
    std::stringstream choices(pattern.substr(alternatives + 3, close - alternatives - 3));
    for (std::string choice; std::getline(choices, choice, '|');)
      for (auto& p : pathsOf(pattern.substr(0, alternatives) + choice + pattern.substr(close + 1)))
        out.push_back(p);
    return out;
  }
  std::string path;
  int depth = 0;
  for (char c : pattern) {
    if (c == '(' && depth++ == 0) path += "{}";
    if (depth == 0) path += c;
    if (c == ')') --depth;
  }
  return {path};
}

// "METHOD /path/{}" for each operation under `paths:` (paths at two spaces, operations at four).
std::set<std::string> documented(const std::string& file) {
  std::ifstream in(file);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << file);
  const std::regex pathLine(R"(^  (/[^:]*):\s*$)"),
      operationLine(R"(^    (get|post|patch|put|delete):\s*$)");
  const std::regex parameter(R"(\{[^}]*\})");
  std::set<std::string> out;
  std::string path, line;
  bool inPaths = false;
  for (std::smatch m; std::getline(in, line);) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') inPaths = line.rfind("paths:", 0) == 0;
    if (!inPaths) continue;
    if (std::regex_match(line, m, pathLine)) path = std::regex_replace(m[1].str(), parameter, "{}");
    if (std::regex_match(line, m, operationLine)) {
      std::string method = m[1];
      for (char& c : method) c = char(std::toupper(static_cast<unsigned char>(c)));
      out.insert(method + " " + path);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(api)

BOOST_AUTO_TEST_CASE(the_openapi_document_lists_exactly_the_endpoints_the_server_serves) {
  Member site(sitesync::testing::testSiteId(0xa1), sitesync::testing::testSiteId(0xa1));
  sitesync::node::GroupCommitter committer(site.engine);
  // With the node's metrics, as `serve --api` runs it.
  sitesync::api::ApiServer server(site.engine, committer,
                                  sitesync::api::ApiOptions{"127.0.0.1", 0, "", ""}, {},
                                  [] { return std::string("sitesync_up 1\n"); });
  std::set<std::string> served;
  for (const std::string& endpoint : server.endpoints()) {
    const size_t space = endpoint.find(' ');
    for (const auto& path : pathsOf(endpoint.substr(space + 1)))
      served.insert(endpoint.substr(0, space) + " " + path);
  }
  const std::set<std::string> inDocument = documented(SITESYNC_SOURCE_DIR "/docs/openapi.yaml");
  BOOST_TEST(served.size() > 20u);
  for (const auto& e : served) BOOST_TEST(inDocument.count(e) == 1u, e << " is not documented");
  for (const auto& e : inDocument) BOOST_TEST(served.count(e) == 1u, e << " is not served");
}

BOOST_AUTO_TEST_SUITE_END()
