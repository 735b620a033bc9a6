// Internal to api/: what the routes that read and write customers share: parsing a body, finding
// a customer, the turns API writes to a customer take, committing one LocalOp through the group
// commit, and answering with the record and its ETag.
#pragma once

#include <array>
#include <mutex>
#include <vector>

#include "api/src/http.h"

namespace sitesync::api {

// A strong validator of the record as stored: its encoded bytes, hashed.
std::string etagOf(const Customer& c);
// The body as a JSON object; 400 malformed_json otherwise.
nlohmann::json parseObject(const httplib::Request& req);
// 412 when the request has an If-Match that is not `current`'s ETag.
void checkIfMatch(const httplib::Request& req, const Customer& current);
// A JSON value as the text a setting or an element's attribute holds: strings as they are,
// true/false, whole numbers; null clears. Other types are refused (400 wrong_type).
std::string textOf(const std::string& name, const nlohmann::json& value);
// A customer id in a path; 404 when it is not one.
RecordId idIn(const std::string& text);
// A technician writes only to the customers assigned to them (403 not_assigned otherwise);
// staff and admins write to any.
void checkAssigned(const Caller& caller, const Customer& c);

class Records {
 public:
  Records(sync::Engine& engine, node::GroupCommitter& committer)
      : engine_(engine), committer_(committer) {}

  const sync::Engine& engine() const { return engine_; }
  // For an import: thousands of rows per transaction, committed by the engine itself rather than
  // one op at a time through the group commit.
  sync::Engine& bulkWriter() { return engine_; }
  // The customer as stored; 404 when there is none.
  Customer existing(RecordId id) const;
  Customer existing(const std::string& idText) const { return existing(idIn(idText)); }
  // A customer named by id or #NUMBER; 404 when none.
  RecordId resolve(const std::string& ref) const;
  // Commits `op`; a refusal throws its HttpFailure and writes nothing.
  sync::OpResult commit(sync::LocalOp op);
  // commit(), then the customer the op wrote as it is now.
  Customer commitRecord(sync::LocalOp op);
  void replyRecord(httplib::Response& res, int status, const Customer& c) const;

  // API writes to one customer take turns, so that no other API write comes between an
  // If-Match check and the write it guards. (Edits from other processes or peers still can.)
  // Several customers (a merge) are taken in one order, so two writers never wait on each other.
  using Turns = std::vector<std::unique_lock<std::mutex>>;
  Turns writingTo(const std::vector<RecordId>& ids);

 private:
  sync::Engine& engine_;
  node::GroupCommitter& committer_;
  std::array<std::mutex, 64> turns_;  // striped by customer id
};

}  // namespace sitesync::api
