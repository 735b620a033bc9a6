// Thin RAII and key-encoding helpers over the LMDB C API, private to storage/.
#pragma once

#include <lmdb.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "storage/store.h"

namespace sitesync::storage::lmdb {

[[noreturn]] inline void fail(int rc, const char* what) {
  // A full disk shows as ENOSPC, or as EIO when LMDB's write of a page came up short.
  if (rc == ENOSPC || rc == EIO || rc == EDQUOT)
    throw StoreError(rc, std::string("cannot write the store: the disk is full or failing (") +
                             what + ": " + mdb_strerror(rc) +
                             "); nothing of this write was kept: free some space and try again");
  throw StoreError(rc, std::string(what) + ": " + mdb_strerror(rc));
}
inline void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) fail(rc, what);
}

inline MDB_val val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view view(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// Get: returns false when absent.
inline bool get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view& out) {
  MDB_val k = val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  check(rc, "mdb_get");
  out = view(v);
  return true;
}

inline void put(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view value,
                unsigned flags = 0) {
  MDB_val k = val(key), v = val(value);
  check(mdb_put(txn, dbi, &k, &v, flags), "mdb_put");
}

// Delete: absent keys are fine.
inline void del(MDB_txn* txn, MDB_dbi dbi, std::string_view key) {
  MDB_val k = val(key);
  int rc = mdb_del(txn, dbi, &k, nullptr);
  if (rc != MDB_NOTFOUND) check(rc, "mdb_del");
}

// A cursor that lives as long as its scope (and never longer than its transaction).
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { check(mdb_cursor_open(txn, dbi, &cursor_), "cursor_open"); }
  ~Cursor() { mdb_cursor_close(cursor_); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Positions at the first key >= `key`; false past the end.
  bool seek(std::string_view key) { return move(val(key), MDB_SET_RANGE); }
  bool first() { return move(MDB_val{0, nullptr}, MDB_FIRST); }
  bool last() { return move(MDB_val{0, nullptr}, MDB_LAST); }
  bool next() { return move(MDB_val{0, nullptr}, MDB_NEXT); }
  bool prev() { return move(MDB_val{0, nullptr}, MDB_PREV); }
  // Inserts or overwrites; the cursor stays on the new item.
  void put(std::string_view key, std::string_view value) {
    MDB_val k = val(key), v = val(value);
    check(mdb_cursor_put(cursor_, &k, &v, 0), "mdb_cursor_put");
  }
  // Deletes `key` if present.
  void erase(std::string_view key) {
    MDB_val k = val(key), v{};
    int rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET);
    if (rc == MDB_NOTFOUND) return;
    check(rc, "mdb_cursor_get");
    check(mdb_cursor_del(cursor_, 0), "mdb_cursor_del");
  }
  // Appends a key larger than every other (the page fills up instead of splitting in half); a
  // key that is not falls back to an ordinary insert.
  void append(std::string_view key, std::string_view value) {
    check(putOrElse(key, value, MDB_APPEND, 0), "mdb_cursor_put");
  }
  // Appends a key that must be larger than every other (the log's next position): one that is
  // not is an error, MDB_KEYEXIST.
  void appendOrFail(std::string_view key, std::string_view value) {
    MDB_val k = val(key), v = val(value);
    check(mdb_cursor_put(cursor_, &k, &v, MDB_APPEND), "mdb_cursor_put(append)");
  }
  // Tables of sorted duplicates (MDB_DUPSORT): adds `value` under `key` unless the pair is
  // there. A value larger than the key's others is appended (its page fills up instead of
  // splitting in half); any other falls back to an ordinary insert.
  void putDuplicate(std::string_view key, std::string_view value) {
    const int rc = putOrElse(key, value, MDB_APPENDDUP, MDB_NODUPDATA);
    if (rc != MDB_KEYEXIST) check(rc, "mdb_cursor_put");
  }
  // Deletes the pair `key`, `value` if present (sorted duplicates).
  void eraseDuplicate(std::string_view key, std::string_view value) {
    MDB_val k = val(key), v = val(value);
    int rc = mdb_cursor_get(cursor_, &k, &v, MDB_GET_BOTH);
    if (rc == MDB_NOTFOUND) return;
    check(rc, "mdb_cursor_get");
    check(mdb_cursor_del(cursor_, 0), "mdb_cursor_del");
  }
  // Deletes the current item and moves to the one after it; false past the end. (After a
  // delete LMDB leaves the cursor on the following item, and MDB_NEXT then does not skip it.)
  bool eraseCurrent() {
    check(mdb_cursor_del(cursor_, 0), "mdb_cursor_del");
    return move(MDB_val{0, nullptr}, MDB_NEXT);
  }
  std::string_view key() const { return view(key_); }
  std::string_view value() const { return view(value_); }

 private:
  bool move(MDB_val key, MDB_cursor_op op) {
    key_ = key;
    int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
    if (rc == MDB_NOTFOUND) return false;
    check(rc, "mdb_cursor_get");
    return true;
  }
  // A put with `flags`, again with `otherwise` if that one found the key (not in order).
  int putOrElse(std::string_view key, std::string_view value, unsigned flags, unsigned otherwise) {
    MDB_val k = val(key), v = val(value);
    int rc = mdb_cursor_put(cursor_, &k, &v, flags);
    if (rc != MDB_KEYEXIST) return rc;
    k = val(key);
    v = val(value);
    return mdb_cursor_put(cursor_, &k, &v, otherwise);
  }
  MDB_cursor* cursor_ = nullptr;
  MDB_val key_{}, value_{};
};

// Big-endian fixed-width integers, so that LMDB's byte order is numeric order.
inline void storeU64(char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline void appendU64(std::string& out, uint64_t v) {
  char b[8];
  storeU64(b, v);
  out.append(b, 8);
}
inline void appendU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}
inline uint32_t readU32(std::string_view s, size_t at = 0) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
inline uint64_t readU64(std::string_view s, size_t at = 0) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
inline std::string u64Key(uint64_t v) {
  std::string k;
  appendU64(k, v);
  return k;
}
inline void appendId(std::string& out, RecordId id) {
  appendU64(out, id.site);
  appendU64(out, id.counter);
}
// A record id as its 16-byte key, without a heap allocation (a std::string holds 15 in place).
struct IdKey {
  char bytes[16];
  operator std::string_view() const { return {bytes, sizeof bytes}; }
};
inline IdKey idKey(RecordId id) {
  IdKey k;
  storeU64(k.bytes, id.site);
  storeU64(k.bytes + 8, id.counter);
  return k;
}
inline RecordId readId(std::string_view s, size_t at = 0) {
  return RecordId{readU64(s, at), readU64(s, at + 8)};
}

}  // namespace sitesync::storage::lmdb
