// The inbox: a peer's batch made durable before it is applied, so that it can be acknowledged
// after one short sequential write instead of after the write of every record and index page
// it touches. An entry is 'w' (waiting) or 'x' (set aside: it could not apply, with why), then
// the batch as one wire message (the protocol's own batch codec: compressed, and checked when
// read back like anything a peer sends).
#include <pthread.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/errors.h"
#include "sync/src/core.h"

namespace sitesync::sync {

struct Core::Applier {
  std::mutex joinMutex;  // settleStaged may be called from more than one thread
  std::thread thread;
  mutable std::mutex mutex;     // guards what follows
  VersionVector promised;       // what the batch being applied adds to the register
  std::string error;            // what went wrong with the last one ("": nothing)
  bool writeFailed = false;     // its write failed (not the batch): it waits in the inbox
  VersionVector setAsideFirst;  // per origin, the first seq of a batch set aside
  // The last batch handed to the thread: freed by the thread that hands over the next one, once
  // that one's write has started (freeing 16,000 changes took ~3 ms off the writer's path).
  std::shared_ptr<void> handedOver;
  std::atomic<bool> writing{false};  // the thread has not finished its write yet
};

Core::Core(storage::Store& store, Clock& clock, Engine& engine)
    : store_(store), clock_(clock), engine_(engine), applier_(std::make_unique<Applier>()) {}

Core::~Core() = default;

void Replication::stageBatchesFrom(size_t changes) {
  core_.stageFrom_ = changes;
}

namespace {

constexpr char kWaiting = 'w';
constexpr char kSetAside = 'x';

void appendU32(std::string& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(char((v >> shift) & 0xff));
}

// A set-aside entry's reason: its length (u32, little-endian), then the text.
std::string readReason(std::string_view in, size_t& at) {
  if (in.size() < at + 4) throw ApplyError("a staged batch in the inbox is cut short");
  uint32_t size = 0;
  for (int i = 0; i < 4; ++i) size |= uint32_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
  at += 4;
  if (in.size() - at < size) throw ApplyError("a staged batch in the inbox is cut short");
  std::string reason(in.substr(at, size));
  at += size;
  return reason;
}

std::string encodeEntry(char state, const std::string& reason, std::string_view batch) {
  std::string out(1, state);
  if (state == kSetAside) {
    appendU32(out, uint32_t(reason.size()));
    out += reason;
  }
  out += batch;
  return out;
}

struct Entry {
  char state = kWaiting;
  std::string reason;
  std::string_view batch;  // one encoded ChangeBatch message
};

Entry decodeEntry(std::string_view bytes) {
  if (bytes.empty()) throw ApplyError("an empty entry in the inbox");
  Entry e;
  e.state = bytes[0];
  size_t at = 1;
  if (e.state == kSetAside) e.reason = readReason(bytes, at);
  e.batch = bytes.substr(at);
  return e;
}

std::vector<std::string> changesOf(const Entry& e) {
  WireMessage message = decodeWireMessage(e.batch);
  auto* batch = std::get_if<ChangeBatchMsg>(&message);
  if (!batch) throw ApplyError("an entry of the inbox holds no change batch");
  return std::move(batch->changes);
}

}  // namespace

uint64_t Core::stageBatch(std::string_view encodedBatch) {
  return store_.write([&](storage::WriteTxn& txn) {
    const uint64_t key = store_.local().lastInboxKey(txn) + 1;
    store_.local().putInbox(txn, key, encodeEntry(kWaiting, {}, encodedBatch));
    return key;
  });
}

void Core::setAside(uint64_t inboxKey, const std::string& reason) {
  store_.write([&](storage::WriteTxn& txn) {
    for (auto& [key, bytes] : store_.local().inbox(txn))
      if (key == inboxKey) {
        const Entry e = decodeEntry(bytes);
        store_.local().putInbox(txn, key, encodeEntry(kSetAside, reason, e.batch));
      }
  });
}

// What a staged batch's write leaves: an error to report, and whether the write itself failed
// (then the batch waits in the inbox, still promised, and settleStaged tries it again).
void Core::writeStaged(const std::vector<Change>& batch, const std::vector<std::string>& bytes,
                       uint64_t inboxKey) {
  std::string error;
  bool refused = false, writeFailed = false;
  try {
    auto report = writeBatch(batch, bytes, std::vector<bool>(batch.size(), true), inboxKey);
    if (!report.followUpError.empty())
      error = "written, but what it called for failed: " + report.followUpError;
    // The node streams what the log gained: wake it (as after a local commit).
    if (localCommitListener_) localCommitListener_();
  } catch (const ApplyError& e) {
    error = e.what();
    refused = true;
  } catch (const DecodeError& e) {
    error = e.what();
    refused = true;
  } catch (const std::exception& e) {
    error = e.what();
    writeFailed = true;
  }
  if (refused) {
    try {
      setAside(inboxKey, error);
      error = "set aside in the inbox: " + error;
    } catch (const std::exception& e) {
      writeFailed = true;  // still waiting in the inbox
      error += std::string("; not set aside either: ") + e.what();
    }
  }
  std::lock_guard lock(applier_->mutex);
  if (refused)
    for (const Change& c : batch)
      if (applier_->setAsideFirst.get(c.id.origin) == 0)
        applier_->setAsideFirst.set(c.id.origin, c.id.seq);
  if (!writeFailed) applier_->promised.clear();
  applier_->error = std::move(error);
  applier_->writeFailed = writeFailed;
}

void Core::applyInBackground(std::vector<Change> changes, std::vector<std::string> encoded,
                             uint64_t inboxKey, const VersionVector& adds) {
  {
    std::lock_guard lock(applier_->mutex);
    for (const auto& [origin, seq] : adds.entries()) applier_->promised.set(origin, seq);
  }
  std::lock_guard join(applier_->joinMutex);
  if (applier_->thread.joinable()) applier_->thread.join();  // one staged batch at a time
  auto batch = std::make_shared<std::pair<std::vector<Change>, std::vector<std::string>>>(
      std::move(changes), std::move(encoded));
  applier_->writing = true;
  try {
    applier_->thread = std::thread([this, batch, inboxKey] {
      pthread_setname_np(pthread_self(), "applier");  // for top -H and perf
      writeStaged(batch->first, batch->second, inboxKey);
      applier_->writing = false;
    });
  } catch (const std::system_error&) {
    writeStaged(batch->first, batch->second, inboxKey);  // no thread to be had: written now
    applier_->writing = false;
  }
  std::shared_ptr<void> previous = std::exchange(applier_->handedOver, batch);
}

bool Core::applierWriting() const {
  return applier_->writing;
}

std::string Replication::settleStaged() {
  {
    std::lock_guard join(core_.applier_->joinMutex);
    if (core_.applier_->thread.joinable()) core_.applier_->thread.join();
  }
  std::string error;
  bool retry = false;
  {
    std::lock_guard lock(core_.applier_->mutex);
    error = std::move(core_.applier_->error);
    core_.applier_->error.clear();
    retry = core_.applier_->writeFailed;
  }
  if (retry) {
    core_.applyWaitingBatches(false);  // throws while the write still fails: retried at next settle
    std::lock_guard lock(core_.applier_->mutex);
    core_.applier_->writeFailed = false;
    core_.applier_->promised.clear();
  }
  return error;
}

VersionVector Replication::heldVector() const {
  // The promise first: read after it, the register holds at least what the applier wrote
  // before clearing it (read before, the two could miss a batch between them).
  VersionVector promised;
  {
    std::lock_guard lock(core_.applier_->mutex);
    promised = core_.applier_->promised;
  }
  VersionVector held = core_.store_.vector(core_.store_.read());
  for (const auto& [origin, seq] : promised.entries())
    if (seq > held.get(origin)) held.set(origin, seq);
  return held;
}

bool Replication::stagedBeyond(const VersionVector& peer) const {
  std::lock_guard lock(core_.applier_->mutex);
  for (const auto& [origin, seq] : core_.applier_->promised.entries())
    if (peer.get(origin) < seq) return true;
  return false;
}

void Core::noteSetAside(const VersionVector& firstSeqs) {
  std::lock_guard lock(applier_->mutex);
  for (const auto& [origin, seq] : firstSeqs.entries())
    if (applier_->setAsideFirst.get(origin) == 0) applier_->setAsideFirst.set(origin, seq);
}

bool Core::setAsideBefore(const VerifiedBatch& batch) const {
  std::lock_guard lock(applier_->mutex);
  for (const auto& [origin, seq] : batch.first.entries())
    if (applier_->setAsideFirst.get(origin) == seq) return true;
  return false;
}

size_t Replication::applyStagedBatches() {
  settleStaged();
  return core_.applyWaitingBatches(true);
}

size_t Core::applyWaitingBatches(bool alsoSetAside) {
  std::vector<std::pair<uint64_t, std::string>> entries;
  {
    auto txn = store_.read();
    entries = store_.local().inbox(txn);
  }
  size_t applied = 0;
  for (const auto& [key, bytes] : entries) {
    try {
      const Entry e = decodeEntry(bytes);
      // A batch set aside is tried again when the node starts: what it lacked then (a gap
      // before it, say) may have come since. One that still cannot apply stays, with why.
      if (e.state != kWaiting && !alsoSetAside) continue;
      const std::vector<std::string> encoded = changesOf(e);
      // Verified before it was staged; the inbox is this node's own store.
      std::vector<Change> changes;
      changes.reserve(encoded.size());
      for (const auto& c : encoded) changes.push_back(decodeChange(c));
      writeBatch(changes, encoded, std::vector<bool>(changes.size(), true), key);
      ++applied;
    } catch (const ApplyError& e) {
      setAside(key, e.what());
    } catch (const DecodeError& e) {
      setAside(key, e.what());
    }
  }
  return applied;
}

Replication::InboxState Replication::inboxState() const {
  InboxState state;
  for (const InboxEntry& e : inboxEntries()) {
    if (e.setAside)
      state.setAside.push_back("staged batch " + std::to_string(e.key) + ": " + e.reason);
    else
      ++state.waiting;
  }
  return state;
}

std::vector<Replication::InboxEntry> Replication::inboxEntries() const {
  std::vector<InboxEntry> entries;
  auto txn = core_.store_.read();
  for (const auto& [key, bytes] : core_.store_.local().inbox(txn)) {
    InboxEntry entry;
    entry.key = key;
    try {
      const Entry e = decodeEntry(bytes);
      entry.setAside = e.state != kWaiting;
      entry.reason = e.reason;
      entry.changes = changesOf(e).size();
    } catch (const std::exception& e) {  // unreadable: it can only be set aside
      entry.setAside = true;
      if (entry.reason.empty()) entry.reason = e.what();
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Status Replication::dropSetAside(uint64_t key) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Status {
    for (const auto& [held, bytes] : core_.store_.local().inbox(txn)) {
      if (held != key) continue;
      if (!bytes.empty() && bytes[0] == kWaiting)
        return Status::failedPrecondition(
            "staged batch " + std::to_string(key) +
            " is waiting to be applied, not set aside: `sitesync inbox retry` "
            "applies it");
      core_.store_.local().removeInbox(txn, key);
      return Status::ok();
    }
    return Status::notFound("no staged batch " + std::to_string(key) +
                            " in the inbox (`sitesync inbox list` shows them)");
  });
}

}  // namespace sitesync::sync
