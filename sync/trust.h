// Trust (DESIGN.md section 7): the allow list of peers that node/ enforces on every link, the
// proof a hello carries that a site owns its key, at-rest encryption of sensitive values, and
// the users of the application API (api/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/protocol.h"
#include "sync/engine_part.h"
#include "sync/keys.h"
#include "sync/operations.h"
#include "sync/reports.h"

namespace sitesync::sync {

// A part of Engine (sync/engine.h), which is what callers hold.
class Trust : private EnginePart {
 public:
  // At-rest encryption: from now on sensitive values this engine writes are sealed, and the
  // reads below (customer, list, search, history, conflicts) open them. `cipher` must outlive
  // the engine. Refused (kFailedPrecondition) when the store was sealed under another key, or
  // is not encrypted. initializeEncryption marks a fresh site's store as encrypted.
  Status useCipher(const FieldCipher* cipher);
  Status initializeEncryption(const FieldCipher& cipher);
  bool encrypted() const;  // the store was made with --encrypt
  // Adds a peer or replaces the one of that name; no two peers share a key.
  Status allowPeer(const AllowedPeer& peer);
  // Revoking a peer whose site is known (it proved its key in a hello) also revokes the site:
  // none of its changes past those this node holds now is applied here, whoever relays them.
  // Returns the site revoked with it (0: none known); kNotFound: no such peer.
  Result<SiteId> revokePeer(const std::string& name);
  std::vector<AllowedPeer> allowedPeers() const;
  // A hello's proof that this site and the link key `curvePublicKey` (Z85) belong together.
  void proveIdentity(HelloMsg& hello, const std::string& curvePublicKey) const;
  // Checks the proof in a peer's hello against the key its link proved, and notes on the allow
  // list the site that key belongs to. Refused (kFailedPrecondition, saying why) when the proof
  // is missing or does not hold.
  Status acceptIdentity(const HelloMsg& hello, const std::string& curvePublicKey);
  // Whether a peer was ever allowed: until then links are not encrypted (a new, unconfigured
  // node); from then on only allowed keys connect, even once every peer has been removed.
  bool allowListConfigured() const;
  // The users of the application API (api/ decides what a role may do): deployment-wide, written
  // at the hub (or a site not yet joined) as settings changes in `author`'s name and replicated
  // with them; elsewhere refused (kFailedPrecondition, naming the hub).
  Status addApiUser(const ApiUser& user, const std::string& author);  // kAlreadyExists: taken
  // A new token for a user: the old one stops working. kNotFound: no such user.
  Status replaceApiUserToken(const std::string& name, const std::string& tokenHash,
                             const std::string& author);
  Status removeApiUser(const std::string& name, const std::string& author);  // kNotFound
  std::vector<ApiUser> apiUsers() const;  // by name; removed ones left out

 protected:
  explicit Trust(Core& core) : EnginePart(core) {}

 private:
  // Writes user `name` as `valueFor` decides from the user held (nullopt: none), in one
  // transaction with that read.
  Status writeApiUser(
      const std::string& name, const std::string& author,
      const std::function<Result<std::string>(const std::optional<ApiUser>&)>& valueFor);
};

}  // namespace sitesync::sync
