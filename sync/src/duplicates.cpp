// Possible duplicates (Reads::possibleDuplicates, duplicatesOf): customers likely to be one
// person, found through the indexes and one pass over the records, scored by what they share.
#include <algorithm>
#include <map>

#include "sync/engine.h"
#include "sync/src/core.h"

namespace sitesync::sync {

namespace {

using storage::ReadTxn;

// A value more customers share than this (a company's switchboard, a shared family address)
// says little about any two of them being one person.
constexpr size_t kMaxShared = 20;

struct Sign {
  double weight;
  const char* reason;
};
constexpr Sign kSameSsn{0.9, "same social security number"};
constexpr Sign kSameNameAndBirth{0.8, "same name and birth date"};
constexpr Sign kSameEmail{0.6, "same e-mail address"};
constexpr Sign kSamePhone{0.5, "same phone"};
constexpr Sign kSameName{0.3, "same name"};
constexpr Sign kSimilarName{0.2, "nearly the same name (one letter apart)"};

// Names that short say too little when a letter differs ("Ann Li", "Ann Lu"); names with digits
// ("Staff 1", "Staff 2") are told apart by them.
constexpr size_t kMinSimilarName = 10;
bool mayBeMistyped(const std::string& key) {
  return key.size() >= kMinSimilarName &&
         std::none_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// The name's words sorted, accents folded (as the name index has them): "Åke Berg" and
// "berg ake" give one key. Empty for no name.
std::string nameKey(const Customer& c) {
  auto tokens = storage::nameTokens(c.value(CustomerField::name));
  std::sort(tokens.begin(), tokens.end());
  std::string key;
  for (const auto& t : tokens) key += t + ' ';
  return key;
}

// One edit apart: a letter added, removed, replaced, or two neighbours swapped (byte-wise on
// the folded key, which is ASCII for Latin names).
bool oneEditApart(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1 || a == b) return false;
  size_t head = 0;
  while (head < a.size() && a[head] == b[head]) ++head;
  if (a.size() < b.size()) return a.substr(head) == b.substr(head + 1);
  if (a.substr(head + 1) == b.substr(head + 1)) return true;  // replaced
  return head + 1 < a.size() && a[head] == b[head + 1] && a[head + 1] == b[head] &&
         a.substr(head + 2) == b.substr(head + 2);  // swapped
}

// FNV-1a of `key` without its byte `skip` (none when skip >= size).
uint64_t hashWithout(std::string_view key, size_t skip) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < key.size(); ++i)
    if (i != skip) h = (h ^ uint8_t(key[i])) * 1099511628211ull;
  return h;
}

// The keys a name is found under when a letter differs: the name and the name with each one of
// its bytes left out, hashed. Two names one edit apart share at least one of them.
void addSimilarityKeys(std::string_view key, uint32_t index,
                       std::vector<std::pair<uint64_t, uint32_t>>& out) {
  out.emplace_back(hashWithout(key, key.size()), index);
  for (size_t i = 0; i < key.size(); ++i)
    if (i == 0 || key[i] != key[i - 1])  // else the same string as the previous one
      out.emplace_back(hashWithout(key, i), index);
}

// For one new customer: the searches that find the names one edit from its name, as far as the
// name index serves them: each query leaves one word out (the one a letter differs in), and
// looks at the first kSimilarCandidates it finds, so a very common remaining word may hide one.
constexpr size_t kSimilarCandidates = 500;
std::vector<std::string> similarNameCandidates(const Customer& c) {
  const auto tokens = storage::nameTokens(c.value(CustomerField::name));
  std::vector<std::string> queries;
  for (size_t skip = 0; skip < tokens.size() && tokens.size() > 1; ++skip) {
    std::string query;
    for (size_t i = 0; i < tokens.size(); ++i)
      if (i != skip) query += tokens[i] + ' ';
    queries.push_back(std::move(query));
  }
  if (tokens.size() == 1) queries.push_back(tokens[0].substr(0, 3));
  return queries;
}

// As Store::sharedPhones compares phones.
std::string phoneTerm(const std::string& phone) {
  return std::string(storage::phoneIdentity(storage::phoneKey(phone)));
}

// What pairs of customers share, then scored: 1 - the product of (1 - weight) over the signs.
class Evidence {
 public:
  void add(RecordId a, RecordId b, const Sign& sign) {
    if (a == b) return;
    if (b < a) std::swap(a, b);
    auto& signs = pairs_[{a, b}];
    if (std::find(signs.begin(), signs.end(), &sign) == signs.end()) signs.push_back(&sign);
  }
  void addGroup(const std::vector<RecordId>& group, const Sign& sign) {
    if (group.size() < 2 || group.size() > kMaxShared) return;
    for (size_t i = 0; i < group.size(); ++i)
      for (size_t j = i + 1; j < group.size(); ++j) add(group[i], group[j], sign);
  }

  std::vector<DuplicatePair> best(size_t limit) const {
    std::vector<DuplicatePair> out;
    for (const auto& [pair, held] : pairs_) {
      std::vector<const Sign*> signs = held;
      if (std::count(signs.begin(), signs.end(), &kSameNameAndBirth))  // says it already
        signs.erase(std::remove(signs.begin(), signs.end(), &kSameName), signs.end());
      std::sort(signs.begin(), signs.end(),
                [](const Sign* a, const Sign* b) { return a->weight > b->weight; });
      DuplicatePair d{pair.first, pair.second, 0, {}};
      double unlikely = 1;
      for (const Sign* s : signs) {
        unlikely *= 1 - s->weight;
        d.reasons.push_back(s->reason);
      }
      d.score = 1 - unlikely;
      out.push_back(std::move(d));
    }
    std::sort(out.begin(), out.end(), [](const DuplicatePair& a, const DuplicatePair& b) {
      return std::tie(b.score, a.first, a.second) < std::tie(a.score, b.first, b.second);
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  }

 private:
  std::map<std::pair<RecordId, RecordId>, std::vector<const Sign*>> pairs_;
};

// The live customers `ids` stand for (a merged one as its survivor), each once, sorted.
std::vector<RecordId> liveSurvivors(const Core& core, const ReadTxn& txn,
                                    const std::vector<RecordId>& ids) {
  std::vector<RecordId> out;
  for (RecordId held : ids) {
    const RecordId id = core.survivorOf(txn, held);
    auto c = core.store_.customer(txn, id);
    if (c && c->isLive()) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Groups of neighbours in `keyed` sorted by key: the customers sharing each key.
void addSharedKeys(std::vector<std::pair<std::string, RecordId>>& keyed, const Sign& sign,
                   Evidence& evidence) {
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < keyed.size();) {
    size_t j = i;
    std::vector<RecordId> group;
    for (; j < keyed.size() && keyed[j].first == keyed[i].first; ++j)
      group.push_back(keyed[j].second);
    evidence.addGroup(group, sign);
    i = j;
  }
}

// Customers whose names (`named`: name key, id, sorted) are one edit apart, found through
// shared similarity keys of each distinct name rather than by comparing all pairs.
void addSimilarNames(const std::vector<std::pair<std::string, RecordId>>& named,
                     Evidence& evidence) {
  struct Name {
    size_t first, end;  // its customers in `named`
  };
  std::vector<Name> names;
  std::vector<std::pair<uint64_t, uint32_t>> keys;
  for (size_t i = 0; i < named.size();) {
    size_t j = i;
    while (j < named.size() && named[j].first == named[i].first) ++j;
    if (j - i < kMaxShared && mayBeMistyped(named[i].first)) {
      addSimilarityKeys(named[i].first, uint32_t(names.size()), keys);
      names.push_back({i, j});
    }
    i = j;
  }
  std::sort(keys.begin(), keys.end());
  std::vector<uint32_t> group;
  auto addPairs = [&](const Name& x, const Name& y) {
    if ((x.end - x.first) + (y.end - y.first) > kMaxShared) return;
    for (size_t a = x.first; a < x.end; ++a)
      for (size_t b = y.first; b < y.end; ++b)
        evidence.add(named[a].second, named[b].second, kSimilarName);
  };
  for (size_t i = 0; i < keys.size();) {
    group.clear();
    size_t j = i;
    for (; j < keys.size() && keys[j].first == keys[i].first; ++j) group.push_back(keys[j].second);
    i = j;
    if (group.size() < 2 || group.size() > kMaxShared) continue;
    for (size_t a = 0; a < group.size(); ++a)
      for (size_t b = a + 1; b < group.size(); ++b)
        if (group[a] != group[b] &&
            oneEditApart(named[names[group[a]].first].first, named[names[group[b]].first].first))
          addPairs(names[group[a]], names[group[b]]);
  }
}

}  // namespace

std::vector<DuplicatePair> Reads::possibleDuplicates(size_t limit) const {
  auto txn = core_.store_.read();
  Evidence evidence;
  for (const auto& group : core_.store_.sharedSsns(txn))
    evidence.addGroup(liveSurvivors(core_, txn, group), kSameSsn);
  for (const auto& group : core_.store_.sharedEmails(txn))
    evidence.addGroup(liveSurvivors(core_, txn, group), kSameEmail);
  for (const auto& group : core_.store_.sharedPhones(txn))
    evidence.addGroup(liveSurvivors(core_, txn, group), kSamePhone);
  std::vector<std::pair<std::string, RecordId>> byName, byNameAndBirth;
  core_.store_.forEachCustomer(txn, [&](const Customer& c) {
    if (!c.isLive()) return true;
    std::string key = nameKey(c);
    if (key.empty()) return true;
    if (const std::string& birth = c.value(CustomerField::birthDate); !birth.empty())
      byNameAndBirth.emplace_back(key + birth, c.id);
    byName.emplace_back(std::move(key), c.id);
    return true;
  });
  addSharedKeys(byNameAndBirth, kSameNameAndBirth, evidence);
  addSharedKeys(byName, kSameName, evidence);  // sorts byName
  addSimilarNames(byName, evidence);
  return evidence.best(limit);
}

std::vector<DuplicatePair> Reads::duplicatesOf(RecordId id) const {
  auto txn = core_.store_.read();
  Evidence evidence;
  const auto stored = core_.store_.customer(txn, id);
  if (!stored || !stored->isLive()) return {};
  const Customer& c = *stored;
  auto each = [&](const std::vector<RecordId>& found, const Sign& sign, auto&& same) {
    for (RecordId other : liveSurvivors(core_, txn, found))
      if (auto o = core_.store_.customer(txn, other); o && same(*o)) evidence.add(id, other, sign);
  };
  auto always = [](const Customer&) { return true; };
  if (const std::string& ssn = c.value(CustomerField::ssn); !ssn.empty())
    each(core_.store_.findBySsn(txn, ssn), kSameSsn, always);
  if (const std::string email = storage::emailKey(c.value(CustomerField::email)); !email.empty())
    each(core_.store_.findByEmail(txn, c.value(CustomerField::email), kMaxShared), kSameEmail,
         [&](const Customer& o) {
           return storage::emailKey(o.value(CustomerField::email)) == email;
         });
  for (auto field : {CustomerField::phone, CustomerField::phone2})
    if (const std::string term = phoneTerm(c.value(field)); !term.empty())
      each(core_.store_.findByPhone(txn, c.value(field), kMaxShared), kSamePhone,
           [&](const Customer& o) {
             return phoneTerm(o.value(CustomerField::phone)) == term ||
                    phoneTerm(o.value(CustomerField::phone2)) == term;
           });
  if (const std::string key = nameKey(c); !key.empty()) {
    const std::string& birth = c.value(CustomerField::birthDate);
    const auto named = core_.store_.searchName(txn, c.value(CustomerField::name), kMaxShared);
    each(named, kSameName, [&](const Customer& o) { return nameKey(o) == key; });
    if (!birth.empty())
      each(named, kSameNameAndBirth, [&](const Customer& o) {
        return nameKey(o) == key && o.value(CustomerField::birthDate) == birth;
      });
    if (mayBeMistyped(key))
      for (const auto& other : similarNameCandidates(c))
        each(core_.store_.searchName(txn, other, kSimilarCandidates), kSimilarName,
             [&](const Customer& o) { return oneEditApart(nameKey(o), key); });
  }
  return evidence.best(kMaxShared);
}

}  // namespace sitesync::sync
