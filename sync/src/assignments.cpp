// Technicians' assignments (kTechnicianCode registers of a customer): who a technician serves,
// read as their notifications.
#include <algorithm>

#include "sync/engine.h"
#include "sync/src/core.h"

namespace sitesync::sync {

std::vector<Assignment> Reads::assignmentsOf(const std::string& technician) const {
  std::vector<Assignment> out;
  {
    auto txn = core_.store_.read();
    core_.store_.forEachCustomer(txn, [&](const Customer& stored) {
      if (!stored.isLive() && stored.lifecycle != Lifecycle::kMerged) return true;
      const Customer c = core_.view(txn, stored);
      auto it = c.elements.find({kTechnicianCode, technician});
      if (!c.isLive() || it == c.elements.end() || it->second.value != "true") return true;
      out.push_back(Assignment{c.id,
                               c.value(CustomerField::name),
                               c.value(CustomerField::number),
                               it->second.version.hlc,
                               it->second.version.origin,
                               {}});
      return true;
    });
  }
  for (Assignment& a : out)  // who assigned: the author of the change that wrote "true"
    for (const HistoryEntry& e : history(a.customer))
      if (e.at == a.at && e.site == a.site) a.by = e.author;
  std::sort(out.begin(), out.end(),
            [](const Assignment& x, const Assignment& y) { return x.at > y.at; });
  return out;
}

}  // namespace sitesync::sync
