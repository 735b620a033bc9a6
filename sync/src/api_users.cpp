// The users of the application API (sync/trust.h): registers of the replicated settings, written
// by the hub as settings changes, so that a user added there works at every site it reaches.
#include "sync/engine.h"
#include "sync/src/apply_context.h"

namespace sitesync::sync {

namespace {

// "<role> <hash>" as Settings::users holds it; nullopt for a removed user.
std::optional<ApiUser> userFrom(const std::string& name, const FieldValue& held) {
  const size_t space = held.value.find(' ');
  if (held.value.empty() || space == std::string::npos) return std::nullopt;
  return ApiUser{name, held.value.substr(0, space), held.value.substr(space + 1), held.version.hlc};
}

}  // namespace

Status Trust::writeApiUser(
    const std::string& name, const std::string& author,
    const std::function<Result<std::string>(const std::optional<ApiUser>&)>& valueFor) {
  Status outcome = Status::ok();
  bool wrote = false;
  core_.store_.write([&](storage::WriteTxn& txn) {
    ApplyContext batch(core_.store_, txn);
    auto value = valueFor(userFrom(name, batch.settings.held(kSettingsUserCode, name)));
    if (!value.isOk()) {
      outcome = value.status();
      return;
    }
    const OpResult r = core_.runOp(txn, batch,
                                   LocalOp{LocalOp::Kind::kSettings,
                                           {},
                                           {Edit{kSettingsUserCode, name, value.value()}},
                                           author,
                                           {}});
    outcome = r.status;
    if (!outcome.isOk()) return;
    core_.finish(txn, batch);
    wrote = batch.applied > 0;
  });
  if (wrote && core_.localCommitListener_) core_.localCommitListener_();
  return outcome;
}

Status Trust::addApiUser(const ApiUser& user, const std::string& author) {
  return writeApiUser(user.name, author, [&](const std::optional<ApiUser>& held) {
    if (held)
      return Result<std::string>(
          Status::alreadyExists("a user named '" + user.name + "' exists already"));
    return Result<std::string>(user.role + " " + user.tokenHash);
  });
}

Status Trust::replaceApiUserToken(const std::string& name, const std::string& tokenHash,
                                  const std::string& author) {
  return writeApiUser(name, author, [&](const std::optional<ApiUser>& held) {
    if (!held) return Result<std::string>(Status::notFound("no user named '" + name + "'"));
    return Result<std::string>(held->role + " " + tokenHash);
  });
}

Status Trust::removeApiUser(const std::string& name, const std::string& author) {
  return writeApiUser(name, author, [&](const std::optional<ApiUser>& held) {
    if (!held) return Result<std::string>(Status::notFound("no user named '" + name + "'"));
    return Result<std::string>(std::string());
  });
}

std::vector<ApiUser> Trust::apiUsers() const {
  auto txn = core_.store_.read();
  std::vector<ApiUser> out;
  for (const auto& [name, held] : core_.store_.settings(txn).users)
    if (auto user = userFrom(name, held)) out.push_back(std::move(*user));
  return out;
}

}  // namespace sitesync::sync
