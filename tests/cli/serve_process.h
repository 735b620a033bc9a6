// Shared by the CLI end-to-end tests that run a node: `sitesync serve` as a child process,
// its endpoint read from its first line of output, stopped with SIGTERM at the end.
#pragma once

#include <chrono>
#include <csignal>

#include "tests/cli/cli_support.h"

namespace {

// SIGKILL to a child, then waits for it to end.
void killAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// `sitesync serve` in the background; stopped with SIGTERM (a graceful shutdown) at the end.
class ServeProcess {
 public:
  // `captureLog`: keep its log (stderr) for waitForLog; otherwise it is discarded.
  explicit ServeProcess(const std::string& data, const std::vector<std::string>& extra = {},
                        bool captureLog = false) {
    int out[2], err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
    if (captureLog && pipe2(err, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (captureLog)
      posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    else
      posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> args = {SITESYNC_BINARY,    "serve", "--data", data, "--listen",
                                     "tcp://127.0.0.1:*"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, SITESYNC_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (captureLog) close(err[1]);
    err_ = err[0];
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "posix_spawn");
    out_ = out[0];
    // The first line names the endpoint: "serving 'NAME' on tcp://127.0.0.1:PORT".
    const std::string line = nextLine();
    auto at = line.find(" on ");
    endpoint_ = line.substr(at + 4);
  }
  // The next line serve prints (without its newline); throws if none comes within 10 s.
  std::string nextLine() {
    while (unread_.find('\n') == std::string::npos) {
      pollfd fd{out_, POLLIN, 0};
      if (poll(&fd, 1, 10000) <= 0) throw std::runtime_error("serve printed no line");
      char buf[256];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("serve exited early");
      unread_.append(buf, size_t(n));
    }
    const size_t end = unread_.find('\n');
    std::string line = unread_.substr(0, end);
    unread_.erase(0, end + 1);
    return line;
  }
  ~ServeProcess() {
    if (pid_ > 0) stop();
    if (out_ >= 0) close(out_);
    if (err_ >= 0) close(err_);
  }
  // Reads the log (captureLog) until a line holds `needle` or `within` passes; returns the log.
  std::string waitForLog(const std::string& needle, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (log_.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd fd{err_, POLLIN, 0};
      if (left.count() <= 0 || poll(&fd, 1, int(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = read(err_, buf, sizeof buf);
      if (n <= 0) break;
      log_.append(buf, size_t(n));
    }
    return log_;
  }
  const std::string& endpoint() const { return endpoint_; }
  // SIGTERM, then the exit status.
  int stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void signal(int number) { kill(pid_, number); }
  void kill9() {
    killAndReap(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string endpoint_;
  std::string unread_;  // stdout read and not yet returned as a line
  std::string log_;
};

}  // namespace
