// The hub process of `sitesync-bench sync`: spawning it, and what it runs (`serve-hub`).
#include "tools/bench/hub_process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "node/node.h"
#include "sync/testing/engine_test_access.h"

extern char** environ;

namespace sitesync::bench {

namespace {

const char* const kServeHub = "serve-hub";
const char* const kUncheckedSignatures = "--unchecked-signatures";

// Reads the hub's first line, "serving 'hub' on tcp://127.0.0.1:PORT", from `fd`; its endpoint.
std::string servingEndpoint(int fd) {
  std::string line;
  while (line.find('\n') == std::string::npos) {
    pollfd polled{fd, POLLIN, 0};
    char buf[256];
    const ssize_t n = poll(&polled, 1, 10000) > 0 ? read(fd, buf, sizeof buf) : 0;
    if (n <= 0) throw Failure("bench: the hub process did not start serving");
    line.append(buf, size_t(n));
  }
  std::string endpoint = line.substr(line.find(" on ") + 4);
  endpoint.erase(endpoint.find('\n'));
  return endpoint;
}

std::atomic<bool> stopRequested{false};
extern "C" void onStopSignal(int) {
  stopRequested = true;
}

struct ServeHubArgs {
  std::string data;
  bool uncheckedSignatures = false;
};

// Runs the site in `data` as a node on tcp://127.0.0.1 (a port of its own) until SIGTERM, as
// `sitesync serve` would with its defaults; prints where it serves, and logs nothing.
void serveHub(const ServeHubArgs& a) {
  auto store = storage::Store::open(a.data);
  sync::SystemClock clock;
  sync::Engine engine(*store, clock);
  sync::EngineTestAccess::skipSignatureChecks(engine, a.uncheckedSignatures);
  node::ServeOptions options;
  options.identity = node::ensureIdentity(a.data);
  options.compactEvery = std::chrono::minutes(60);
  node::Server server(engine, "tcp://127.0.0.1:*", {}, options);
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  std::cout << "serving '" << engine.meta().siteName << "' on " << server.endpoint() << std::endl;
  server.run(stopRequested);
}

}  // namespace

HubProcess::HubProcess(const std::string& data, Signatures signatures) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw Failure("bench: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {self, kServeHub, "--data", data};
  if (signatures == Signatures::kSkipped) args.push_back(kUncheckedSignatures);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int rc = posix_spawn(&pid_, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw Failure("bench: cannot start the hub process");
  }
  try {
    endpoint_ = servingEndpoint(out[0]);
  } catch (...) {
    close(out[0]);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw;
  }
  close(out[0]);
  rss_ = std::make_unique<RssSampler>("/proc/" + std::to_string(pid_) + "/status");
}

HubProcess::~HubProcess() {
  rss_.reset();
  kill(pid_, SIGTERM);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

uint64_t HubProcess::bytesWritten() const {
  const std::string path = "/proc/" + std::to_string(pid_) + "/io";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("wchar:", 0) == 0) return std::stoull(line.substr(6));
  throw Failure("bench: cannot read the hub's write count from " + path +
                " (a kernel without task I/O accounting?)");
}

double HubProcess::cpuSeconds() const {
  const std::string path = "/proc/" + std::to_string(pid_) + "/stat";
  std::ifstream in(path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // After the command name in parentheses: state is field 3, utime 14, stime 15.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  uint64_t ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14) ticks += std::stoull(field);
  if (!fields) throw Failure("bench: cannot read the hub's CPU time from " + path);
  return double(ticks) / double(sysconf(_SC_CLK_TCK));
}

void addServeHubCommand(CLI::App& app) {
  auto a = std::make_shared<ServeHubArgs>();
  // Hidden (no group): only `sync` starts it, as the hub process it measures.
  auto* cmd = app.add_subcommand(kServeHub, "");
  cmd->group("");
  cmd->add_option("--data", a->data)->required();
  cmd->add_flag(kUncheckedSignatures, a->uncheckedSignatures);
  cmd->callback([a] { serveHub(*a); });
}

}  // namespace sitesync::bench
