// Codecs of a node's own bookkeeping (protocol/local_state.h): meta, peers met, allow list.
#include <string>
#include <string_view>

#include "protocol/protocol.h"
#include "protocol/src/wire.h"
#include "register.capnp.h"

namespace sitesync {

void encode(const Meta& m, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::Meta>();
  b.setSiteId(m.siteId);
  b.setSiteName(capnp::Text::Reader(m.siteName.data(), m.siteName.size()));
  b.setIsHub(m.isHub);
  b.setLastSeq(m.lastSeq);
  b.setLastHlc(m.lastHlc.packed);
  b.setNextAutoNumber(m.nextAutoNumber);
  b.setFormatVersion(m.formatVersion);
  b.setCreatedAt(m.createdAtMillis);
  b.setActiveCustomers(m.activeCustomers);
  b.setDeactivatedCustomers(m.deactivatedCustomers);
  b.setTombstones(m.tombstones);
  b.setDeployment(m.deployment);
  b.setDroppedForErased(m.droppedForErased);
  b.setAtRestKeyCheck(capnp::Text::Reader(m.atRestKeyCheck.data(), m.atRestKeyCheck.size()));
  b.setUnauthorized(m.unauthorized);
  b.setRefusedFromRevoked(m.refusedFromRevoked);
  if (!m.offeredSettings.empty())
    b.setOfferedSettings(capnp::Data::Reader(
        reinterpret_cast<const capnp::byte*>(m.offeredSettings.data()), m.offeredSettings.size()));
  b.setSettingsOffersKept(m.settingsOffersKept);
  b.setSettingsOffersRefused(m.settingsOffersRefused);
  if (!m.revokedSites.entries().empty())
    wire::putVector(b.initRevokedSites(unsigned(m.revokedSites.entries().size())), m.revokedSites);
  if (!m.filter.empty()) b.setFilter(capnp::Text::Reader(m.filter.data(), m.filter.size()));
  b.setRestored(m.restored);
  if (!m.snapshotReadUpTo.entries().empty())
    wire::putVector(b.initSnapshotReadUpTo(unsigned(m.snapshotReadUpTo.entries().size())),
                    m.snapshotReadUpTo);
  if (m.snapshotPending) {
    b.setSnapshotPending(true);
    wire::putVector(b.initSnapshotVector(unsigned(m.snapshotVector.entries().size())),
                    m.snapshotVector);
    b.setSnapshotNextKey(capnp::Data::Reader(
        reinterpret_cast<const capnp::byte*>(m.snapshotNextKey.data()), m.snapshotNextKey.size()));
  }
  wire::toBytes(mb, out);
}

Meta decodeMeta(std::string_view bytes) {
  return wire::read<schema::Meta>(bytes, [](schema::Meta::Reader r) {
    Meta m;
    m.siteId = r.getSiteId();
    m.siteName = wire::text(r.getSiteName());
    m.isHub = r.getIsHub();
    m.lastSeq = r.getLastSeq();
    m.lastHlc = Hlc{r.getLastHlc()};
    m.nextAutoNumber = r.getNextAutoNumber();
    m.formatVersion = r.getFormatVersion();
    m.createdAtMillis = r.getCreatedAt();
    m.activeCustomers = r.getActiveCustomers();
    m.deactivatedCustomers = r.getDeactivatedCustomers();
    m.tombstones = r.getTombstones();
    m.deployment = r.getDeployment();
    m.droppedForErased = r.getDroppedForErased();
    m.atRestKeyCheck = wire::text(r.getAtRestKeyCheck());
    m.unauthorized = r.getUnauthorized();
    m.refusedFromRevoked = r.getRefusedFromRevoked();
    auto offered = r.getOfferedSettings();
    m.offeredSettings.assign(reinterpret_cast<const char*>(offered.begin()), offered.size());
    m.settingsOffersKept = r.getSettingsOffersKept();
    m.settingsOffersRefused = r.getSettingsOffersRefused();
    m.revokedSites = wire::getVector(r.getRevokedSites());
    m.snapshotPending = r.getSnapshotPending();
    m.snapshotVector = wire::getVector(r.getSnapshotVector());
    m.snapshotReadUpTo = wire::getVector(r.getSnapshotReadUpTo());
    m.filter = wire::text(r.getFilter());
    m.restored = r.getRestored();
    auto key = r.getSnapshotNextKey();
    m.snapshotNextKey.assign(reinterpret_cast<const char*>(key.begin()), key.size());
    return m;
  });
}

std::string decodeRetiredSigningKey(std::string_view metaBytes) {
  return wire::read<schema::Meta>(metaBytes, [](schema::Meta::Reader r) {
    auto key = r.getRetiredSigningKey();
    return std::string(reinterpret_cast<const char*>(key.begin()), key.size());
  });
}

void encode(const PeerState& p, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::PeerState>();
  b.setSiteId(p.siteId);
  b.setName(capnp::Text::Reader(p.name.data(), p.name.size()));
  b.setEndpoint(capnp::Text::Reader(p.endpoint.data(), p.endpoint.size()));
  b.setLastContact(p.lastContactMillis);
  wire::putVector(b.initVector(static_cast<unsigned>(p.vector.entries().size())), p.vector);
  b.setSent(p.sent);
  b.setReceived(p.received);
  wire::toBytes(mb, out);
}

PeerState decodePeerState(std::string_view bytes) {
  return wire::read<schema::PeerState>(bytes, [](schema::PeerState::Reader r) {
    PeerState p;
    p.siteId = r.getSiteId();
    p.name = wire::text(r.getName());
    p.endpoint = wire::text(r.getEndpoint());
    p.lastContactMillis = r.getLastContact();
    p.vector = wire::getVector(r.getVector());
    p.sent = r.getSent();
    p.received = r.getReceived();
    return p;
  });
}

void encode(const AllowedPeer& p, std::string& out) {
  wire::Builder mb;
  auto b = mb.initRoot<schema::AllowedPeer>();
  b.setName(capnp::Text::Reader(p.name.data(), p.name.size()));
  b.setPublicKey(capnp::Text::Reader(p.publicKey.data(), p.publicKey.size()));
  b.setEndpoint(capnp::Text::Reader(p.endpoint.data(), p.endpoint.size()));
  b.setAddedAt(p.addedAtMillis);
  b.setSiteId(p.siteId);
  wire::toBytes(mb, out);
}

AllowedPeer decodeAllowedPeer(std::string_view bytes) {
  return wire::read<schema::AllowedPeer>(bytes, [](schema::AllowedPeer::Reader r) {
    return AllowedPeer{wire::text(r.getName()), wire::text(r.getPublicKey()),
                       wire::text(r.getEndpoint()), r.getAddedAt(), r.getSiteId()};
  });
}

}  // namespace sitesync
