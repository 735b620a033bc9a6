// Link security: key files, CURVE socket options, the ZAP handler and the allow list.
#include "node/src/security.h"

#include "node/src/transport.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace sitesync::node {

namespace {

std::string keyFile(const std::string& dataDir) {
  return (std::filesystem::path(dataDir) / "node.key").string();
}

std::string publicOf(const std::string& secretKey) {
  std::array<char, 41> pub{};
  if (zmq_curve_public(pub.data(), secretKey.c_str()) != 0)
    throw SecurityError("the secret key is malformed (not 40 Z85 characters)");
  return std::string(pub.data(), 40);
}

std::string modeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", unsigned(mode & 07777));
  return text;
}

}  // namespace

bool isPublicKey(std::string_view z85) {
  if (z85.size() != 40) return false;
  std::array<uint8_t, 32> raw{};
  const std::string text(z85);
  return zmq_z85_decode(raw.data(), text.c_str()) != nullptr;
}

std::string keyFingerprint(std::string_view z85) {
  return std::string(z85.substr(0, 8));
}

Identity loadIdentity(const std::string& dataDir) {
  const std::string path = keyFile(dataDir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw SecurityError("no key pair in " + dataDir + " (" + path +
                        " is missing): run `sitesync init` there first");
  if ((st.st_mode & 077) != 0)
    throw SecurityError(path + " may be read by others (mode " + modeText(st.st_mode) +
                        "): run `chmod 600 " + path + "`");
  std::ifstream in(path);
  std::string secret;
  if (!std::getline(in, secret) || secret.size() != 40)
    throw SecurityError(path + " does not hold a secret key (40 Z85 characters)");
  return Identity{publicOf(secret), secret};
}

Identity ensureIdentity(const std::string& dataDir) {
  const std::string path = keyFile(dataDir);
  if (::access(path.c_str(), F_OK) == 0) return loadIdentity(dataDir);
  std::array<char, 41> pub{}, secret{};
  if (zmq_curve_keypair(pub.data(), secret.data()) != 0)
    throw SecurityError("cannot make a CURVE key pair (libzmq built without CURVE?)");
  std::filesystem::create_directories(dataDir);
  writeOwnerOnlyFile(path, std::string(secret.data(), 40) + "\n");
  return Identity{std::string(pub.data(), 40), std::string(secret.data(), 40)};
}

void writeOwnerOnlyFile(const std::string& path, std::string_view contents) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  auto failure = [&](const char* what, int error) {
    return SecurityError(std::string(what) + " " + path + ": " + std::strerror(error));
  };
  std::string temporary = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);  // mode 0600 from its creation
  if (fd < 0) throw failure("cannot create", errno);
  int error = 0;
  for (size_t done = 0; error == 0 && done < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n >= 0)
      done += size_t(n);
    else if (errno != EINTR)
      error = errno;
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  ::close(fd);
  const char* what = error != 0 ? "cannot write" : "cannot create";
  // A link, unlike a rename, fails when `path` exists (made meanwhile): a key is never replaced.
  if (error == 0 && ::link(temporary.c_str(), path.c_str()) != 0) error = errno;
  ::unlink(temporary.c_str());
  if (error != 0) throw failure(what, error);
  const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd < 0 || ::fsync(dirFd) != 0) error = errno;
  if (dirFd >= 0) ::close(dirFd);
  if (error != 0) throw failure("cannot sync the directory of", error);
}

bool AllowList::refresh() {
  bool configured = engine_.allowListConfigured();
  std::vector<AllowedPeer> peers = engine_.allowedPeers();
  if (configured == configured_ && peers == peers_) return false;
  configured_ = configured;
  peers_ = std::move(peers);
  return true;
}

const AllowedPeer* AllowList::byKey(const std::string& publicKey) const {
  for (const auto& p : peers_)
    if (p.publicKey == publicKey) return &p;
  return nullptr;
}

const AllowedPeer* AllowList::byEndpoint(const std::string& endpoint) const {
  for (const auto& p : peers_)
    if (!p.endpoint.empty() && p.endpoint == endpoint) return &p;
  return nullptr;
}

void makeCurveServer(zmq::socket_t& socket, const Identity& self) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, self.secretKey);
  socket.set(zmq::sockopt::zap_domain, "sitesync");
}

void makeCurveClient(zmq::socket_t& socket, const Identity& self, const std::string& serverKey) {
  socket.set(zmq::sockopt::curve_serverkey, serverKey);
  socket.set(zmq::sockopt::curve_publickey, self.publicKey);
  socket.set(zmq::sockopt::curve_secretkey, self.secretKey);
}

// Answers the ZAP requests waiting on `zap` (a REP socket bound to inproc://zeromq.zap.01 in the
// node's context): a client whose key is on the allow list is admitted with its key as user id;
// any other is refused and logged with the key's fingerprint.
void Gatekeeper::answerZap_(zmq::socket_t& zap, const AllowList& allowed, const Log& log) {
  for (;;) {
    std::vector<zmq::message_t> request = receiveParts(zap);
    if (request.empty()) return;
    // version, request id, domain, address, routing id, mechanism, credentials...
    std::string userId, status = "400", text = "this node does not allow that key";
    if (request.size() >= 7 && request[5].to_string() == "CURVE" && request[6].size() == 32) {
      std::array<char, 41> z85{};
      zmq_z85_encode(z85.data(), static_cast<const uint8_t*>(request[6].data()), 32);
      const std::string key(z85.data(), 40);
      if (allowed.byKey(key)) {
        status = "200";
        text = "OK";
        userId = key;
      } else if (log) {
        log("refused a connection from " + request[3].to_string() + ": key " + keyFingerprint(key) +
            "... is not on the allow list (sitesync peers add)");
      }
    } else if (log) {
      log("refused a connection that did not offer a CURVE key");
    }
    const std::string version = "1.0";
    const std::string requestId = request.size() > 1 ? request[1].to_string() : std::string();
    zap.send(zmq::buffer(version), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(requestId), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(status), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(text), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(userId), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(std::string()), zmq::send_flags::none);
  }
}

std::string senderKey(const zmq::message_t& message) {
  const char* id = zmq_msg_gets(const_cast<zmq_msg_t*>(message.handle()), "User-Id");
  return id ? std::string(id) : std::string();
}

Gatekeeper::Gatekeeper(sync::Engine& engine, std::optional<Identity> identity, Log log)
    : identity_(std::move(identity)), log_(std::move(log)), allowed_(engine) {
  secure_ = identity_.has_value() && allowed_.configured();
}

std::string Gatekeeper::bind(zmq::context_t& context, zmq::socket_t& router,
                             const std::string& endpoint) {
  router = zmq::socket_t(context, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
  if (secure_) {
    if (!zap_) {  // bound before the router accepts anyone: without it CURVE admits every key
      zap_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
      zap_->set(zmq::sockopt::linger, 0);
      zap_->bind("inproc://zeromq.zap.01");
    }
    makeCurveServer(router, *identity_);
  }
  for (int attempt = 0;; ++attempt) {
    try {
      router.bind(endpoint);
      return router.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      if (e.num() != EADDRINUSE || attempt >= 50) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

Gatekeeper::News Gatekeeper::refresh(Clock::time_point now) {
  if (now - lastRefresh_ < std::chrono::milliseconds(500)) return News::kNone;
  lastRefresh_ = now;
  if (!allowed_.refresh() || !identity_) return News::kNone;
  if (!secure_ && allowed_.configured()) {
    secure_ = true;
    if (log_) log_("the allow list is configured: links are CURVE from now on, only allowed keys");
    return News::kBecameSecure;
  }
  return News::kChanged;
}

bool Gatekeeper::strike(const std::string& who) {
  ++malformed_;
  if (++strikes_[who] < kMaxStrikes) return false;
  strikes_.erase(who);
  return true;
}

bool Gatekeeper::ignoring(const std::string& identity) {
  auto q = quarantined_.find(identity);
  if (q == quarantined_.end()) return false;
  if (Clock::now() < q->second) return true;
  quarantined_.erase(q);
  return false;
}

}  // namespace sitesync::node
