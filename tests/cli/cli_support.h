// Shared by the CLI end-to-end tests: a temporary data directory per test and a runner that
// spawns the built binaries (`sitesync`, and `sitesync-bench` for the benchmarks; no shell),
// capturing stdout, stderr and the exit status.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct RunResult {
  int status = -1;  // exit status; 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "[exit " << r.status << "] stdout: " << r.out << " stderr: " << r.err;
}

// The environment of the child: ours, with a fixed default user for the history; without
// `withUser`, with no user variable at all (SITESYNC_USER, USER, LOGNAME).
std::vector<std::string> childEnvironment(bool withUser = true) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "SITESYNC_USER=", 14) != 0 &&
        (withUser || (std::strncmp(*e, "USER=", 5) != 0 && std::strncmp(*e, "LOGNAME=", 8) != 0)))
      env.emplace_back(*e);
  if (withUser) env.emplace_back("SITESYNC_USER=tester");
  return env;
}

// Runs `program` with `args` (no shell), stdin from /dev/null; returns its exit status, stdout
// and stderr, both read to the end.
RunResult runProgram(const std::string& program, const std::vector<std::string>& args,
                     bool withUser = true) {
  int outPipe[2], errPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  if (pipe2(errPipe, O_CLOEXEC) != 0) {
    int saved = errno;
    close(outPipe[0]);
    close(outPipe[1]);
    throw std::system_error(saved, std::generic_category());
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2);

  std::vector<std::string> argStore;
  argStore.push_back(program);
  argStore.insert(argStore.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argStore) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStore = childEnvironment(withUser);
  std::vector<char*> envp;
  for (auto& e : envStore) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(outPipe[1]);
  close(errPipe[1]);
  if (rc != 0) {
    close(outPipe[0]);
    close(errPipe[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + program);
  }

  RunResult result;
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, size_t(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  if (WIFEXITED(status))
    result.status = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.status = 128 + WTERMSIG(status);
  return result;
}

// Runs the sitesync binary with `args`.
RunResult runBinary(const std::vector<std::string>& args, bool withUser = true) {
  return runProgram(SITESYNC_BINARY, args, withUser);
}

std::string trimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool isRecordId(const std::string& s) {
  static const std::regex re("^[0-9a-f]{16}-[0-9]+$");
  return std::regex_match(s, re);
}

// A fresh temporary directory per test, removed afterwards. The data directory's name holds a
// space, so every command also shows that arguments pass through unsplit.
struct Cli {
  fs::path root;
  std::string data;

  Cli() {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    root = fs::temp_directory_path() / ("sitesync-cli-" + std::to_string(getpid()) + "-" +
                                        std::to_string(counter++) + "-" + std::to_string(random()));
    fs::create_directories(root);
    data = (root / "site data").string();
  }
  ~Cli() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  Cli(const Cli&) = delete;
  Cli& operator=(const Cli&) = delete;

  template <typename... Args>
  RunResult run(Args&&... args) {
    return runBinary(std::vector<std::string>{std::string(std::forward<Args>(args))...});
  }
  RunResult runv(const std::vector<std::string>& args) { return runBinary(args); }
  // `sitesync-bench args...`: the benchmarks, a program of their own.
  template <typename... Args>
  RunResult runBench(Args&&... args) {
    return runProgram(SITESYNC_BENCH_BINARY,
                      std::vector<std::string>{std::string(std::forward<Args>(args))...});
  }

  // Runs a command that must succeed and print JSON; returns the JSON.
  template <typename... Args>
  json runJson(Args&&... args) {
    RunResult r = run(std::forward<Args>(args)...);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    BOOST_TEST_REQUIRE(json::accept(r.out), "not JSON: " << r.out);
    return json::parse(r.out);
  }

  void init(const std::string& site = "Branch Tampere") {
    RunResult r = run("init", "--data", data, "--site", site);
    BOOST_TEST_REQUIRE(r.status == 0, r);
  }

  // `customer add --name NAME extra...`; returns the printed id.
  template <typename... Extra>
  std::string add(const std::string& name, Extra&&... extra) {
    RunResult r =
        run("customer", "add", "--data", data, "--name", name, std::forward<Extra>(extra)...);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    std::string id = trimNewline(r.out);
    BOOST_TEST_REQUIRE(isRecordId(id), "not an id: " << r.out);
    return id;
  }

  json show(const std::string& ref) {
    return runJson("customer", "show", "--data", data, ref, "--json");
  }

  std::string digest() {
    RunResult r = run("digest", "--data", data);
    BOOST_TEST_REQUIRE(r.status == 0, r);
    return trimNewline(r.out);
  }

  // Everything a failed command must leave as it was: the register digest and the log.
  std::string state() {
    json s = runJson("status", "--data", data, "--json");
    return digest() + " seq=" + s["last_seq"].dump() + " log=" + s["log_entries"].dump();
  }
};

// A failed command: the exit status, one line on stderr naming the problem, nothing on stdout.
void expectError(const RunResult& r, int status, const std::vector<std::string>& mentions) {
  BOOST_TEST(r.status == status, r);
  BOOST_TEST(r.out.empty(), r);
  BOOST_TEST(r.err.size() > 1, r);
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, "not one line: " << r.err);
  BOOST_TEST((!r.err.empty() && r.err.back() == '\n'), "not one line: " << r.err);
  for (const auto& m : mentions) BOOST_TEST(contains(r.err, m), "'" << m << "' not in: " << r.err);
}

const char* const kRequiredCustomerKeys[] = {"id",    "number",     "name",          "phone",
                                             "email", "status",     "merged_into",   "flags",
                                             "ssn",   "birth_date", "invoice_street"};

}  // namespace
