// `sitesync backup | restore`: a hot backup of a data directory in one file, and a new data
// directory made from one. The file: a first line "SITESYNC-BACKUP 1", a JSON manifest on the
// second (the site, its vector, and each file's name, size and SHA-256), then the files' bytes
// in the manifest's order: the store (LMDB's compacting copy, taken while `serve` writes) and
// the node's link key.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "storage/maintenance.h"
#include "tools/sitesync/cli.h"

namespace sitesync::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "SITESYNC-BACKUP 1";
constexpr size_t kBlock = 1 << 20;

struct BackupArgs {
  std::string data;
  std::string to;
  std::string from;
  bool json = false;
};

// SHA-256 over bytes given in pieces.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
      throw Failure("OpenSSL has no SHA-256");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void add(const char* bytes, size_t n) { EVP_DigestUpdate(ctx_, bytes, n); }
  std::string hex() {
    unsigned char digest[32];
    unsigned size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < size; ++i) out += {digits[digest[i] >> 4], digits[digest[i] & 15]};
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string fileSha256(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 sha;
  std::string block(kBlock, '\0');
  while (in.read(block.data(), std::streamsize(block.size())) || in.gcount() > 0)
    sha.add(block.data(), size_t(in.gcount()));
  return sha.hex();
}

// Writes `text` and fsyncs it; a failure (a full disk) is one line naming the file.
void writeAll(int fd, const char* bytes, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t wrote = ::write(fd, bytes, n);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) throw Failure("cannot write " + path + ": " + std::strerror(errno));
    bytes += wrote;
    n -= size_t(wrote);
  }
}

// An open file descriptor, closed with its scope.
class Fd {
 public:
  Fd(const std::string& path, int flags, mode_t mode = 0600)
      : fd_(::open(path.c_str(), flags, mode)) {
    if (fd_ < 0) throw Failure("cannot open " + path + ": " + std::strerror(errno));
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void sync(const std::string& path) const {
    if (::fsync(fd_) != 0) throw Failure("cannot write " + path + ": " + std::strerror(errno));
  }

 private:
  int fd_;
};

// A scratch directory removed with its scope.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(fs::path p) : path(std::move(p)) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (!fs::create_directory(path, ec))
      throw Failure("cannot create " + path.string() + ": " + ec.message());
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

nlohmann::json manifestOf(const storage::Store& copy, const std::vector<fs::path>& files) {
  auto txn = copy.read();
  const Meta meta = copy.meta(txn).value_or(Meta{});
  nlohmann::json j;
  j["site"] = meta.siteName;
  j["site_id"] = siteIdToHex(meta.siteId);
  j["hub"] = meta.isHub;
  j["filter"] = meta.filter;
  j["format_version"] = kStoreFormatVersion;
  j["created"] = int64_t(std::time(nullptr));
  j["last_seq"] = meta.lastSeq;
  j["vector"] = vectorJson(copy.vector(txn));
  j["files"] = nlohmann::json::array();
  for (const auto& file : files)
    j["files"].push_back({{"name", file.filename().string()},
                          {"bytes", uint64_t(fs::file_size(file))},
                          {"sha256", fileSha256(file)}});
  return j;
}

void backupCommand(const BackupArgs& a) {
  const fs::path data(a.data), to(a.to);
  std::error_code ec;
  if (!fs::exists(data / "data.mdb", ec))
    throw UsageError("'" + a.data + "' is not a sitesync data directory");
  if (fs::is_directory(to, ec)) throw UsageError("--to names a file, not the directory " + a.to);
  // The copy goes next to FILE first: the manifest is read from it (the state of one commit),
  // and a full disk fails before FILE is touched.
  ScratchDir scratch(fs::path(to.string() + ".parts"));
  uint64_t copied = 0;
  {
    storage::Options options;
    options.readOnly = true;
    auto store = storage::Store::open(a.data, options);
    if (!sync::Engine::isInitialized(*store)) throw UsageError("'" + a.data + "' holds no site");
    Fd out((scratch.path / "data.mdb").string(), O_WRONLY | O_CREAT | O_TRUNC);
    copied = storage::Maintenance(*store).copyTo(out.get());
    out.sync((scratch.path / "data.mdb").string());
  }
  std::vector<fs::path> files{scratch.path / "data.mdb"};
  if (fs::exists(data / "node.key", ec)) {
    fs::copy_file(data / "node.key", scratch.path / "node.key", ec);
    if (ec) throw Failure("cannot copy " + (data / "node.key").string() + ": " + ec.message());
    files.push_back(scratch.path / "node.key");
  }
  nlohmann::json manifest;
  {
    storage::Options options;
    options.readOnly = true;
    auto copy = storage::Store::open(scratch.path.string(), options);
    manifest = manifestOf(*copy, files);
  }
  const std::string partial = a.to + ".partial";
  {
    Fd out(partial, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const std::string head = std::string(kMagic) + "\n" + manifest.dump() + "\n";
    writeAll(out.get(), head.data(), head.size(), partial);
    std::string block(kBlock, '\0');
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      while (in.read(block.data(), std::streamsize(block.size())) || in.gcount() > 0)
        writeAll(out.get(), block.data(), size_t(in.gcount()), partial);
    }
    out.sync(partial);
  }
  fs::rename(partial, to, ec);
  if (ec) throw Failure("cannot rename " + partial + " to " + a.to + ": " + ec.message());
  const uint64_t bytes = fs::file_size(to, ec);
  if (a.json) {
    manifest["file"] = a.to;
    manifest["bytes"] = bytes;
    printJson(manifest);
    return;
  }
  std::cout << "backed up site '" << manifest["site"].get<std::string>() << "' (last seq "
            << manifest["last_seq"].get<uint64_t>() << ", store " << copied << " bytes) to " << a.to
            << " (" << bytes << " bytes)\n";
}

// The manifest of a backup file, checked; `in` is left at the first file's bytes.
nlohmann::json readManifest(std::ifstream& in, const std::string& path) {
  std::string magic, line;
  if (!std::getline(in, magic) || magic != kMagic)
    throw UsageError(path + " is not a sitesync backup (it does not start with \"" +
                     std::string(kMagic) + "\")");
  if (!std::getline(in, line)) throw UsageError("the backup " + path + " is damaged: no manifest");
  nlohmann::json manifest = nlohmann::json::parse(line, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("files") || !manifest["files"].is_array())
    throw UsageError("the backup " + path + " is damaged: its manifest is not readable");
  for (const auto& file : manifest["files"]) {
    const auto name = file.value("name", std::string());
    if (name != "data.mdb" && name != "node.key")
      throw UsageError("the backup " + path + " is damaged: it lists an unknown file '" + name +
                       "'");
  }
  if (manifest.value("format_version", 0u) > kStoreFormatVersion)
    throw UsageError("the backup " + path + " holds a store of format " +
                     std::to_string(manifest.value("format_version", 0u)) +
                     ", newer than this sitesync's format " + std::to_string(kStoreFormatVersion) +
                     ": restore it with the sitesync that made it, or a newer one");
  return manifest;
}

// Copies one file of the backup into `dir`, checking its size and SHA-256.
void restoreFile(std::ifstream& in, const nlohmann::json& file, const fs::path& dir,
                 const std::string& path) {
  const std::string name = file.value("name", std::string());
  uint64_t left = file.value("bytes", uint64_t(0));
  const fs::path target = dir / name;
  Fd out(target.string(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  Sha256 sha;
  std::string block(kBlock, '\0');
  while (left > 0) {
    const size_t want = size_t(std::min<uint64_t>(left, block.size()));
    in.read(block.data(), std::streamsize(want));
    const size_t got = size_t(in.gcount());
    if (got == 0)
      throw UsageError("the backup " + path + " is damaged: it ends inside " + name +
                       " (truncated?)");
    sha.add(block.data(), got);
    writeAll(out.get(), block.data(), got, target.string());
    left -= got;
  }
  if (sha.hex() != file.value("sha256", std::string()))
    throw UsageError("the backup " + path + " is damaged: " + name +
                     " does not match its checksum");
  out.sync(target.string());
}

void restoreCommand(const BackupArgs& a) {
  const fs::path dir(a.data);
  std::error_code ec;
  if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
    throw UsageError("'" + a.data + "' is not empty: restore into a new data directory");
  std::ifstream in(a.from, std::ios::binary);
  if (!in) throw UsageError("cannot read " + a.from + ": " + std::strerror(errno));
  const nlohmann::json manifest = readManifest(in, a.from);
  if (!manifest.value("filter", std::string()).empty())
    throw UsageError("the backup " + a.from + " is of the field laptop '" +
                     manifest.value("site", std::string()) +
                     "', which holds only its filter's customers: join it again instead (`sitesync "
                     "join --data DIR --site NAME --hub EP --filter " +
                     manifest.value("filter", std::string()) + "`)");
  fs::create_directories(dir, ec);
  if (ec) throw Failure("cannot create " + a.data + ": " + ec.message());
  try {
    for (const auto& file : manifest["files"]) restoreFile(in, file, dir, a.from);
    if (in.peek() != std::char_traits<char>::eof())
      throw UsageError("the backup " + a.from + " is damaged: it holds bytes past its files");
    // The lost copy may have sent changes after this backup: mark the site so that it makes
    // none until its hub has given them back (Replication::markRestored).
    auto store = storage::Store::open(a.data);
    sync::SystemClock clock;
    sync::Engine engine(*store, clock);
    engine.markRestored();
  } catch (...) {
    for (const auto& file : manifest["files"])
      fs::remove(dir / file.value("name", std::string()), ec);
    fs::remove(dir / "lock.mdb", ec);
    throw;
  }
  if (a.json) {
    nlohmann::json out = manifest;
    out["data"] = a.data;
    out["restored"] = true;
    printJson(out);
    return;
  }
  const bool hub = manifest.value("hub", false);
  std::cout << "restored site '" << manifest.value("site", std::string()) << "' (last seq "
            << manifest.value("last_seq", uint64_t(0)) << ") into " << a.data
            << ": it makes no change until it has synced with " << (hub ? "a peer" : "its hub")
            << ", which gives back what it made after the backup; start it with `sitesync serve "
               "--data "
            << a.data << " ...`\n";
}

}  // namespace

void addBackupCommands(CLI::App& app) {
  auto a = std::make_shared<BackupArgs>();
  auto* backup = app.add_subcommand(
      "backup", "copy a data directory into one file, while serve runs (compacting copy)");
  backup->add_option("--data", a->data, "data directory")->required();
  backup->add_option("--to", a->to, "the backup file to write")->required();
  backup->add_flag("--json", a->json, "JSON output (the manifest)");
  backup->callback([a] { backupCommand(*a); });

  auto* restore = app.add_subcommand(
      "restore", "make a new data directory from a backup; it syncs with its hub before editing");
  restore->add_option("--from", a->from, "the backup file")->required();
  restore->add_option("--data", a->data, "the new data directory (absent or empty)")->required();
  restore->add_flag("--json", a->json, "JSON output");
  restore->callback([a] { restoreCommand(*a); });
}

}  // namespace sitesync::cli
