// The raw baselines' own access to LMDB, through its C API: an environment, a write or read
// transaction and a cursor that close themselves, and the key helpers the copies need. They
// measure what LMDB alone costs, so they go around sitesync's storage layer on purpose.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace sitesync::bench::lmdb {

inline void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw std::runtime_error(std::string(what) + ": " + mdb_strerror(rc));
}
inline MDB_val val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// An environment with room for `maxTables` named tables and a 64 GB map (address space only).
class Env {
 public:
  explicit Env(unsigned maxTables) {
    check(mdb_env_create(&env_), "mdb_env_create");
    mdb_env_set_maxdbs(env_, maxTables);
    mdb_env_set_mapsize(env_, size_t(64) << 30);
  }
  ~Env() { mdb_env_close(env_); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  // Opens the files in `dir` (MDB_RDONLY: a store another program wrote); LMDB's return code.
  int open(const std::string& dir, unsigned flags) {
    return mdb_env_open(env_, dir.c_str(), flags, 0640);
  }
  operator MDB_env*() const { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

// Aborted unless committed.
class Txn {
 public:
  Txn(MDB_env* env, unsigned flags) { check(mdb_txn_begin(env, nullptr, flags, &txn_), "txn"); }
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  void commit() { check(mdb_txn_commit(std::exchange(txn_, nullptr)), "commit"); }
  MDB_dbi table(const std::string& name, unsigned flags) {
    MDB_dbi dbi = 0;
    check(mdb_dbi_open(txn_, name.c_str(), flags, &dbi), "dbi");
    return dbi;
  }
  // False when there is no table of that name.
  bool tryTable(const std::string& name, MDB_dbi& dbi) {
    return mdb_dbi_open(txn_, name.c_str(), 0, &dbi) == MDB_SUCCESS;
  }
  void put(MDB_dbi dbi, std::string_view key, std::string_view value) {
    MDB_val k = val(key), v = val(value);
    check(mdb_put(txn_, dbi, &k, &v, 0), "mdb_put");
  }
  operator MDB_txn*() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

// Puts as storage/ makes them: appended where the key (or a duplicate) sorts last.
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { check(mdb_cursor_open(txn, dbi, &cursor_), "cursor_open"); }
  ~Cursor() { mdb_cursor_close(cursor_); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  bool first() { return move(MDB_FIRST); }
  bool next() { return move(MDB_NEXT); }
  std::string_view key() const { return view(key_); }
  std::string_view value() const { return view(value_); }
  void put(std::string_view key, std::string_view value) {
    check(putWith(key, value, 0), "mdb_cursor_put");
  }
  // A key larger than every other fills the last page; any other is an ordinary put.
  void append(std::string_view key, std::string_view value) {
    check(putOrElse(key, value, MDB_APPEND, 0), "mdb_cursor_put");
  }
  // Sorted duplicates (MDB_DUPSORT): adds the pair unless it is there.
  void putDuplicate(std::string_view key, std::string_view value) {
    const int rc = putOrElse(key, value, MDB_APPENDDUP, MDB_NODUPDATA);
    if (rc != MDB_KEYEXIST) check(rc, "mdb_cursor_put");
  }

 private:
  bool move(MDB_cursor_op op) {
    const int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
    if (rc == MDB_NOTFOUND) return false;
    check(rc, "mdb_cursor_get");
    return true;
  }
  int putWith(std::string_view key, std::string_view value, unsigned flags) {
    MDB_val k = val(key), v = val(value);
    return mdb_cursor_put(cursor_, &k, &v, flags);
  }
  int putOrElse(std::string_view key, std::string_view value, unsigned flags, unsigned otherwise) {
    const int rc = putWith(key, value, flags);
    return rc == MDB_KEYEXIST ? putWith(key, value, otherwise) : rc;
  }
  MDB_cursor* cursor_ = nullptr;
  MDB_val key_{}, value_{};
};

// Big-endian integers, as storage/ writes them into keys.
inline void appendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff));
}
inline uint64_t readU64(std::string_view s, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

}  // namespace sitesync::bench::lmdb
