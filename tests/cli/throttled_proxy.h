// A slow link on loopback for the CLI tests: a TCP proxy that forwards to a target port at a
// limited rate with a one-way delay each way, and can cut every connection once after a number
// of bytes have gone towards the client. The nodes on both sides are the real binaries and
// speak real ZeroMQ through it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <list>
#include <thread>

#include "tests/cli/cli_support.h"

namespace {

class ThrottledProxy {
 public:
  struct Shape {
    double bytesPerSecond = 125000;  // 1 Mbit/s
    std::chrono::milliseconds delay{200};
    uint64_t cutAfterBytes = 0;  // towards the client; 0: never
  };

  ThrottledProxy(uint16_t targetPort, Shape shape) : target_(targetPort), shape_(shape) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in at = loopback(0);
    socklen_t size = sizeof at;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&at), &size) != 0)
      throw std::system_error(errno, std::generic_category(), "proxy listener");
    port_ = ntohs(at.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~ThrottledProxy() {
    stop_ = true;
    thread_.join();
    for (auto& link : links_) link.close();
    close(listener_);
  }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  uint64_t bytesToClient() const { return toClientTotal_; }
  bool cut() const { return cut_; }
  // The port of a ZeroMQ endpoint "tcp://127.0.0.1:PORT".
  static uint16_t portOf(const std::string& endpoint) {
    return uint16_t(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Clock::time_point due;
    std::string bytes;
  };
  // One direction of one connection: what was read, waiting for its delay and the rate.
  struct Pipe {
    int from = -1, to = -1;
    std::deque<Pending> queue;
    double allowance = 0;  // bytes the rate allows now
  };
  struct Link {
    Pipe up, down;  // up: client -> target
    bool open = true;
    void close() {
      if (!open) return;
      ::close(up.from);
      ::close(up.to);
      open = false;
    }
  };

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return at;
  }

  void accept() {
    for (;;) {
      int client = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) return;
      int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in at = loopback(target_);
      if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
        ::close(client);
        if (server >= 0) ::close(server);
        continue;
      }
      fcntl(server, F_SETFL, O_NONBLOCK);
      Link link;
      link.up.from = link.down.to = client;
      link.up.to = link.down.from = server;
      links_.push_back(std::move(link));
    }
  }

  // Reads what is there into the pipe's queue; false when the sender closed.
  bool read(Pipe& pipe, Clock::time_point now) {
    char buf[16384];
    ssize_t n = ::read(pipe.from, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    if (n > 0) pipe.queue.push_back(Pending{now + shape_.delay, std::string(buf, size_t(n))});
    return true;
  }

  // Writes what is due and what the rate allows; false when the receiver is gone.
  bool write(Pipe& pipe, double seconds, Clock::time_point now, bool towardsClient) {
    pipe.allowance = std::min(pipe.allowance + seconds * shape_.bytesPerSecond, 16384.0);
    while (!pipe.queue.empty() && pipe.queue.front().due <= now && pipe.allowance >= 1) {
      std::string& bytes = pipe.queue.front().bytes;
      const size_t size = std::min(bytes.size(), size_t(pipe.allowance));
      ssize_t n = ::write(pipe.to, bytes.data(), size);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      pipe.allowance -= double(n);
      bytes.erase(0, size_t(n));
      if (bytes.empty()) pipe.queue.pop_front();
      if (towardsClient) toClientTotal_ += uint64_t(n);
    }
    return true;
  }

  void loop() {
    auto last = Clock::now();
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (auto& link : links_)
        if (link.open) {
          fds.push_back({link.up.from, POLLIN, 0});
          fds.push_back({link.down.from, POLLIN, 0});
        }
      poll(fds.data(), fds.size(), 2);
      const auto now = Clock::now();
      const double seconds = std::chrono::duration<double>(now - last).count();
      last = now;
      accept();
      for (auto& link : links_) {
        if (!link.open) continue;
        const bool alive = read(link.up, now) && read(link.down, now) &&
                           write(link.up, seconds, now, false) &&
                           write(link.down, seconds, now, true);
        if (!alive) link.close();
      }
      if (shape_.cutAfterBytes > 0 && !cut_ && toClientTotal_ >= shape_.cutAfterBytes) {
        cut_ = true;  // the disconnect in the middle: every connection, once
        for (auto& link : links_) link.close();
      }
      links_.remove_if([](const Link& link) { return !link.open; });
    }
  }

  uint16_t target_;
  Shape shape_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::list<Link> links_;
  std::atomic<uint64_t> toClientTotal_{0};
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace
