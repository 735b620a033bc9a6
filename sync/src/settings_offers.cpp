// Settings a site set before it joined: offered to the hub, which keeps or refuses each.
#include <map>

#include "storage/local_tables.h"
#include "sync/engine.h"
#include "sync/src/apply_context.h"

namespace sitesync::sync {

using storage::WriteTxn;

namespace {
// An offer as the hub's log line names it: a setting with its value, a user or a custom field by
// name (never a token's hash).
std::string offerText(const SettingsOffer& offer) {
  if (offer.field == kSettingsUserCode) return "user " + offer.key;
  if (offer.field == kSettingsCustomFieldCode) return "custom field " + offer.key;
  if (offer.field == kSettingsCustomerGroupCode) return "customer group " + offer.key;
  if (offer.field == kSettingsDiscountTypeCode) return "discount type " + offer.key;
  return std::string(settingsFields()[offer.field].cliName) + "=" + offer.value;
}
}  // namespace

std::string Core::decideSettingsOffers(const std::vector<SettingsOffer>& offers) {
  std::string keptText, refusedText;
  auto note = [](std::string& text, const SettingsOffer& offer) {
    text += (text.empty() ? " " : ", ") + offerText(offer);
  };
  bool wrote = false;
  std::string origins;
  store_.write([&](WriteTxn& txn) {
    ApplyContext batch(store_, txn);
    // Per field (or user), the offer kept: the first site to offer a field the deployment has no
    // value for; that site's later offers of it supersede its earlier (its log is in order).
    std::map<std::pair<uint16_t, std::string>, const SettingsOffer*> chosen;
    for (const SettingsOffer& offer : offers) {
      auto it = chosen.find({offer.field, offer.key});
      const FieldValue held = batch.settings.held(offer.field, offer.key);
      if (it != chosen.end() && it->second->origin == offer.origin) {
        it->second = &offer;
      } else if (it == chosen.end() && !held.version.isNull() && held.value == offer.value) {
        ++batch.meta.settingsOffersKept;  // the deployment has that value already
        note(keptText, offer);
      } else if (it == chosen.end() && held.version.isNull()) {
        chosen[{offer.field, offer.key}] = &offer;
      } else {
        ++batch.meta.settingsOffersRefused;
        note(refusedText, offer);
      }
    }
    std::map<SiteId, std::vector<Edit>> bySite;
    for (const auto& [field, offer] : chosen)
      bySite[offer->origin].push_back(Edit{field.first, field.second, offer->value});
    for (const auto& [site, edits] : bySite) {
      const OpResult r = runOp(txn, batch,
                               LocalOp{LocalOp::Kind::kSettings,
                                       {},
                                       edits,
                                       "sitesync",
                                       "offered by site " + siteIdToHex(site) + " when it joined"});
      // A value this version cannot take (or min above max) is refused like a held one.
      (r.status.isOk() ? batch.meta.settingsOffersKept : batch.meta.settingsOffersRefused) +=
          edits.size();
      for (const Edit& e : edits)
        note(r.status.isOk() ? keptText : refusedText,
             SettingsOffer{site, e.field, e.key, e.value});
    }
    finish(txn, batch);
    wrote = batch.applied > 0;
    for (const SettingsOffer& offer : offers) {
      const auto peer = store_.local().peer(txn, offer.origin);
      const std::string label = (peer && !peer->name.empty() ? "'" + peer->name + "' " : "") + "(" +
                                siteIdToHex(offer.origin) + ")";
      if (origins.find(label) == std::string::npos)
        origins += (origins.empty() ? "" : ", ") + label;
    }
  });
  if (wrote && localCommitListener_) localCommitListener_();
  return "settings offered by site " + origins + " (set there before it joined): kept" +
         (keptText.empty() ? " none" : keptText) + "; refused" +
         (refusedText.empty() ? " none" : refusedText) +
         (refusedText.empty() ? "" : " (the deployment has values of its own)");
}

std::vector<OfferedSetting> Reads::offeredSettings() const {
  std::vector<OfferedSetting> out;
  auto txn = core_.store_.read();  // what was offered and what the deployment holds, together
  const Meta m = core_.store_.meta(txn).value_or(Meta{});
  if (m.offeredSettings.empty()) return out;
  const Settings offered = decodeSettings(m.offeredSettings);
  const Settings now = core_.store_.settings(txn);
  for (size_t i = 0; i < kSettingsFieldCount; ++i) {
    if (offered.fields[i].version.isNull()) continue;
    OfferedSetting o;
    o.field = static_cast<SettingsField>(i);
    o.offered = offered.fields[i].value;
    o.deploymentValue = now.get(o.field);
    if (now.fields[i].version.isNull())
      o.outcome = OfferedSetting::Outcome::kWaiting;
    else
      o.outcome = now.fields[i].value == o.offered ? OfferedSetting::Outcome::kKept
                                                   : OfferedSetting::Outcome::kRefused;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace sitesync::sync
