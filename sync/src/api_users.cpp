// The users of the application API (sync/trust.h), kept in storage's local tables.
#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/src/core.h"

namespace sitesync::sync {

Status Trust::addApiUser(const ApiUser& user) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Status {
    if (core_.store_.local().apiUser(txn, user.name))
      return Status::alreadyExists("a user named '" + user.name + "' exists already");
    core_.store_.local().putApiUser(txn, user);
    return Status::ok();
  });
}

Status Trust::replaceApiUserToken(const std::string& name, const std::string& tokenHash) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Status {
    auto user = core_.store_.local().apiUser(txn, name);
    if (!user) return Status::notFound("no user named '" + name + "'");
    user->tokenHash = tokenHash;
    core_.store_.local().putApiUser(txn, *user);
    return Status::ok();
  });
}

Status Trust::removeApiUser(const std::string& name) {
  return core_.store_.write([&](storage::WriteTxn& txn) -> Status {
    if (!core_.store_.local().removeApiUser(txn, name))
      return Status::notFound("no user named '" + name + "'");
    return Status::ok();
  });
}

std::vector<ApiUser> Trust::apiUsers() const {
  auto txn = core_.store_.read();
  return core_.store_.local().apiUsers(txn);
}

}  // namespace sitesync::sync
