// `serve --config FILE` and `config check`: a TOML file (toml++) whose keys are serve's long
// options with '-' written '_', so the file and the flags cannot drift apart: a key is read by
// the very option its flag sets, with the same checks.
#include <toml++/toml.h>

#include <iostream>
#include <sstream>

#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

struct Problem {
  int line;
  std::string text;
};

struct ConfigEntry {
  std::string key;
  std::vector<std::string> values;  // one per array element
  bool boolean = false;
  int line = 0;
};

std::string optionName(const std::string& key) {
  std::string name = key;
  std::replace(name.begin(), name.end(), '_', '-');
  return "--" + name;
}

std::optional<std::string> scalarText(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_integer()) return std::to_string(*node.value<int64_t>());
  if (node.is_floating_point()) {
    std::ostringstream out;
    out << *node.value<double>();
    return out.str();
  }
  if (auto b = node.value<bool>()) return *b ? "true" : "false";
  return std::nullopt;
}

// The file's entries; a problem with one is reported through `problem` and the entry skipped.
template <typename Problem>
std::vector<ConfigEntry> readEntries(const std::string& path, Problem problem) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto line = int(e.source().begin.line);
    if (line == 0) throw UsageError(path + ": " + std::string(e.description()));
    problem(line, std::string(e.description()));
    return {};
  }
  std::vector<ConfigEntry> entries;
  for (auto&& [key, node] : table) {
    ConfigEntry entry{std::string(key.str()), {}, node.is_boolean(), int(key.source().begin.line)};
    if (const toml::array* list = node.as_array()) {
      for (const toml::node& element : *list)
        if (auto text = scalarText(element)) entry.values.push_back(*text);
    } else if (auto text = scalarText(node)) {
      entry.values.push_back(*text);
    } else {
      problem(entry.line, "'" + entry.key +
                              "' is a table: sitesync's settings are keys at the top of the file");
      continue;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

// The arguments an entry stands for, or a problem if serve has no such option.
std::optional<std::vector<std::string>> argumentsOf(const CLI::App& serve, const ConfigEntry& entry,
                                                    std::string& problem) {
  const std::string name = optionName(entry.key);
  const CLI::Option* option = nullptr;
  try {
    option = serve.get_option(name);
  } catch (const CLI::OptionNotFound&) {
  }
  if (!option || name == "--config" || name == "--help") {
    problem = "unknown key '" + entry.key + "' (serve has no " + name + ")";
    return std::nullopt;
  }
  std::vector<std::string> out;
  if (option->get_type_size() == 0) {  // a flag
    out.push_back(name + "=" + (entry.values.empty() ? "false" : entry.values.front()));
    return out;
  }
  for (const auto& value : entry.values) out.insert(out.end(), {name, value});
  return out;
}

bool givenOnCommandLine(const std::vector<std::string>& given, const std::string& name) {
  return std::any_of(given.begin(), given.end(), [&](const std::string& arg) {
    return arg == name || arg.rfind(name + "=", 0) == 0;
  });
}

}  // namespace

std::vector<std::string>& serveCommandLine() {
  static std::vector<std::string> words;
  return words;
}

std::vector<std::string> configArguments(const CLI::App& serve, const std::string& path,
                                         const std::vector<std::string>& given) {
  auto fail = [&](int line, const std::string& message) {
    throw UsageError(path + ":" + std::to_string(line) + ": " + message);
  };
  std::vector<std::string> out;
  for (const ConfigEntry& entry : readEntries(path, fail)) {
    std::string problem;
    auto arguments = argumentsOf(serve, entry, problem);
    if (!arguments) fail(entry.line, problem);
    if (!givenOnCommandLine(given, optionName(entry.key)))  // the flags win
      out.insert(out.end(), arguments->begin(), arguments->end());
  }
  return out;
}

std::vector<std::string> configProblems(const std::string& path) {
  std::vector<Problem> found;
  auto note = [&](int line, const std::string& message) {
    found.push_back({line, path + ":" + std::to_string(line) + ": " + message});
  };
  const auto entries = readEntries(path, note);
  const bool unreadable = !found.empty() && entries.empty();
  for (const ConfigEntry& entry : entries) {
    // Each value is read by a serve of its own, so that one bad key does not hide the next.
    CLI::App app;
    addNodeCommands(app);
    CLI::App* serve = app.get_subcommand("serve");
    serve->callback([] {});
    std::string problem;
    auto arguments = argumentsOf(*serve, entry, problem);
    if (!arguments) {
      note(entry.line, problem);
      continue;
    }
    std::vector<std::string> args{"sitesync", "serve"};
    for (const char* required : {"--data", "--listen"})
      if (optionName(entry.key) != required) args.insert(args.end(), {required, "tcp://x:1"});
    args.insert(args.end(), arguments->begin(), arguments->end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    try {
      app.parse(int(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      note(entry.line, "'" + entry.key + "': " + e.what());
    }
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const Problem& x, const Problem& y) { return x.line < y.line; });
  std::vector<std::string> problems;
  for (auto& p : found) problems.push_back(std::move(p.text));
  for (const char* required : {"data", "listen"})
    if (!unreadable && std::none_of(entries.begin(), entries.end(),
                                    [&](const ConfigEntry& e) { return e.key == required; }))
      problems.push_back(path + ": no '" + required + "': serve needs it (or --" + required +
                         " on its command line)");
  return problems;
}

void addConfigCommands(CLI::App& app) {
  auto* config = app.add_subcommand("config", "the configuration file of `serve`");
  auto* check = config->add_subcommand(
      "check", "report each unknown key or bad value of a configuration file, with its line");
  auto path = std::make_shared<std::string>();
  check->add_option("--config", *path, "the TOML file (e.g. /etc/sitesync/site.toml)")->required();
  check->callback([path] {
    const auto problems = configProblems(*path);
    for (const auto& p : problems) std::cerr << p << "\n";
    if (!problems.empty())
      throw UsageError(std::to_string(problems.size()) + " problem" +
                       (problems.size() == 1 ? "" : "s") + " in " + *path);
    std::cout << *path << ": ok\n";
  });
}

}  // namespace sitesync::cli
