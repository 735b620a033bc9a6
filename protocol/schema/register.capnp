@0xd54869c4afec44dd;
# The customer register: what a node stores in LMDB and (from the replication issue on) what it
# sends to its peers. One schema for disk and wire. Evolution rules: new fields only at new
# ordinals, never renumber, never change a field's type (but a retired pointer field may become
# AnyPointer); enums only grow.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("sitesync::schema");

# ---------------------------------------------------------------------------------------------
# Vocabulary

struct RecordId {
  # 128-bit customer id: the creating site and the seq of the creating change at that site, so one
  # site's ids ascend (LMDB key order) and ids never collide. Never reused, never changed.
  site @0 :UInt64;
  counter @1 :UInt64;
}

struct Version {
  # Version of a field write: its change's hybrid logical clock and origin site. Ordered by
  # (hlc, origin): a total order, the same on every node.
  hlc @0 :UInt64;     # physical milliseconds << 16 | logical counter
  origin @1 :UInt64;  # site id
  seq @2 :UInt64;     # the write's change is (origin, seq); not part of the order
}

struct Field {
  # One replicated register: the value last written and the version of that write.
  # Every scalar value is canonical UTF-8 text (dates "YYYY-MM-DD", booleans "true"/"false");
  # the empty string means "not set". A null Field pointer is a field never written.
  value @0 :Text;
  hlc @1 :UInt64;
  origin @2 :UInt64;
  seq @3 :UInt64;           # seq of the write's change at its origin (0 with hlc/origin 0)
  others @4 :List(Head);    # concurrent writes no later write has replaced: an open conflict
  replacedEarly @5 :List(Version);  # writes replaced here before they arrived
}

struct Head {
  # A value of a register that no write has replaced yet, beside the one shown (the head with
  # the largest version). Several heads are an open conflict (DESIGN.md section 6).
  value @0 :Text;
  hlc @1 :UInt64;
  origin @2 :UInt64;
  seq @3 :UInt64;
}

enum Lifecycle {
  live @0;         # active or deactivated: see the `status` field
  deleted @1;      # tombstone; an admin can restore
  merged @2;       # absorbed into `mergedInto`
  erased @3;       # personal data removed; only id and the fact of erasure remain
}

# ---------------------------------------------------------------------------------------------
# The customer record (DESIGN.md section 3). Scalar fields are registers (Field); their names,
# spelled in snake_case (invoice_street), are the FIELD names of `sitesync customer ... --set`.

struct CustomField {
  # Deployment-defined field: name -> value, each name its own register.
  name @0 :Text;
  field @1 :Field;
}

struct Customer {
  id @0 :RecordId;
  lifecycle @1 :Lifecycle;
  mergedInto @2 :RecordId;       # set when lifecycle == merged
  lifecycleVersion @3 :Version;  # version of the last delete/merge/restore/erase
  created @4 :Version;           # version of the creating change

  # Registers. Each has the same name in CustomerField below (its code in a FieldWrite).
  number @5 :Field;              # business customer number, digits, unique among live customers
  name @6 :Field;                # person's full name or company name
  phone @7 :Field;
  phone2 @8 :Field;
  email @9 :Field;
  birthDate @10 :Field;          # YYYY-MM-DD
  gender @11 :Field;             # female | male | other | unknown
  language @12 :Field;           # e.g. "fi", "sv", "en"
  ssn @13 :Field;                # social security number
  customerGroup @14 :Field;
  discountLetters @15 :Field;
  status @16 :Field;             # active | deactivated
  invoiceStreet @17 :Field;      # addresses: invoice, visiting and mail
  invoicePostalCode @18 :Field;
  invoiceCity @19 :Field;
  invoiceCountry @20 :Field;
  visitingStreet @21 :Field;
  visitingPostalCode @22 :Field;
  visitingCity @23 :Field;
  visitingCountry @24 :Field;
  mailStreet @25 :Field;
  mailPostalCode @26 :Field;
  mailCity @27 :Field;
  mailCountry @28 :Field;
  newsletter @29 :Field;              # consent: "true"/"false"
  dataProtectionAccepted @30 :Field;  # consent: when accepted, ISO 8601 UTC; empty if not
  primaryTherapist @31 :Field;        # user id
  secondaryTherapist @32 :Field;      # user id

  # Collections. Contacts, journal entries and discount cards live in `elements`, one register
  # per attribute. Ordinals 33, 34, 36 and 37 are retired: a first design of those collections
  # as nested structs, never written by any release; kept as AnyPointer (a compatible change of
  # a pointer field) so that the ordinals are never reused.
  retired33 @33 :AnyPointer;
  retired34 @34 :AnyPointer;
  customFields @35 :List(CustomField);   # sorted by name
  retired36 @36 :AnyPointer;
  retired37 @37 :AnyPointer;
  elements @38 :List(ElementRegister);   # sorted by (kind, key)
}

struct ElementRegister {
  # One attribute of an element of a customer's collections, as a register of its own.
  # kind: 29 contact (name, phone, email, send_service_protocol, send_work_orders, removed),
  #       30 journal entry (text, author, at, deleted),
  #       31 discount card (type, value_cents, price_paid_cents, valid_until, usage/<id>),
  #       32 linked record (kind, title, text, status, date, starts_at, amount_cents, due_date,
  #          paid, valid_until, units, debtor, technician, deleted, usage/<id>; protocol 7).
  # key: "<element id>/<attribute>"; the element id is made like a RecordId from the site and
  # seq of the change that added it. A card's usage is "<card id>/usage/<usage id>", written once,
  # value "<amount in cents>|<visit>" (a record's: "<units>|<note>"): usages are append-only.
  kind @0 :UInt16;
  key @1 :Text;
  field @2 :Field;
}

enum CustomerField {
  # Field codes of FieldWrite for customer changes: one per register of Customer, same names.
  number @0; name @1; phone @2; phone2 @3; email @4; birthDate @5; gender @6; language @7;
  ssn @8; customerGroup @9; discountLetters @10; status @11;
  invoiceStreet @12; invoicePostalCode @13; invoiceCity @14; invoiceCountry @15;
  visitingStreet @16; visitingPostalCode @17; visitingCity @18; visitingCountry @19;
  mailStreet @20; mailPostalCode @21; mailCity @22; mailCountry @23;
  newsletter @24; dataProtectionAccepted @25; primaryTherapist @26; secondaryTherapist @27;
  customField @28;   # key = the custom field's name
  # 29 contact, 30 journal, 31 discount, 32 record: FieldWrite.field values beyond this enum, whose key is
  # "<element id>/<attribute>" (see ElementRegister).
}

enum SettingsField {
  # Field codes of FieldWrite for settings changes: same names as Settings' registers.
  requiredFields @0; requirePhoneOrEmail @1; numberMinLength @2; numberMaxLength @3;
  autoNumber @4; nextNumber @5; ssnShown @6; ssnUnique @7; journalEditWindowHours @8;
  journalDeleteWindowHours @9; numberBlockSize @10; maxClockSkew @11; ageAlertYears @12;
  # FieldWrite.field 256 (beyond this enum, so that settings can be added here): an API user,
  # key = the user's name, value "<role> <SHA-256 hex of their token>", empty once removed
  # (see Settings.users).
  # FieldWrite.field 257: a custom field's definition, key = its name, value
  # "kind\trequired\tretired\tlabel\tchoices" (see Settings.customFieldDefinitions).
  # FieldWrite.field 258 and 259: a customer group's and a discount type's catalogue entry, key =
  # its name, value "retired\tlabel\tvalue_cents\tprice_cents\tvalid_months\tservices"
  # (protocol 7; see Settings.customerGroups and Settings.discountTypes).
}

# ---------------------------------------------------------------------------------------------
# Deployment settings: one replicated record, changed only by the hub or an admin.

struct Settings {
  requiredFields @0 :Field;          # comma-separated customer field names, e.g. "phone,email"
  requirePhoneOrEmail @1 :Field;     # "true": at least one of phone, email
  numberMinLength @2 :Field;         # digits
  numberMaxLength @3 :Field;
  autoNumber @4 :Field;              # "true": customers without a typed number get the next one
  nextNumber @5 :Field;              # first number automatic numbering hands out
  ssnShown @6 :Field;
  ssnUnique @7 :Field;
  journalEditWindowHours @8 :Field;
  journalDeleteWindowHours @9 :Field;
  numberBlockSize @10 :Field;        # size of the number blocks the hub leases to sites
  maxClockSkew @11 :Field;           # seconds a change may be stamped ahead of the receiver's clock
  users @12 :List(CustomField);      # the application API's users, deployment-wide: one register
                                     # per name (settings write code 256), by name
  ageAlertYears @13 :Field;          # customers younger than this are flagged (0: off)
  customFieldDefinitions @14 :List(CustomField);  # by name (settings write code 257)
  customerGroups @15 :List(CustomField);          # the catalogues, by name (codes 258, 259)
  discountTypes @16 :List(CustomField);
}

# ---------------------------------------------------------------------------------------------
# The change (operation): the unit of the log and of replication.

enum Operation {
  create @0;        # new customer; writes hold its initial fields
  update @1;        # set fields
  delete @2;
  restore @3;
  erase @4;
  merge @5;         # target is the survivor; see `absorbed`
  settings @6;      # writes are Settings fields; target is unused
  journal @7;       # add or edit a journal entry
  discountUsage @8;
  lease @9;         # the hub leases a block of customer numbers to a site; see `lease`
}

struct NumberLease {
  # A block of automatic customer numbers, first to last inclusive, that the hub gave one site.
  site @0 :UInt64;
  first @1 :UInt64;
  last @2 :UInt64;
  version @3 :Version;      # in a snapshot: the lease change's; unset inside a Change
}

struct FieldWrite {
  # One field's new value. Its version is the change's (hlc, origin): every write of one change
  # carries that same version.
  field @0 :UInt16;         # a CustomerField (or SettingsField for settings changes)
  key @1 :Text;             # sub-element: custom-field name or element id; empty for plain fields
  value @2 :Text;
  replaces @3 :List(Version);  # the version(s) of this field its author saw (empty: none)
}

struct Change {
  origin @0 :UInt64;        # site that made the change
  seq @1 :UInt64;           # dense from 1 per origin: change id = (origin, seq)
  hlc @2 :UInt64;           # hybrid logical clock at the origin
  operation @3 :Operation;
  target @4 :RecordId;
  author @5 :Text;          # user who made it (history's "who")
  writes @6 :List(FieldWrite);
  absorbed @7 :List(RecordId);  # merge: customers absorbed into the target
  signature @8 :Data;       # origin's signature (security issue); empty until then
  note @9 :Text;            # why, when a machine made it (the hub renumbering a duplicate)
  lease @10 :NumberLease;   # operation lease: the block
  # Set when the personal data (author, values) was erased: the hash those had, so that the
  # change still verifies against its origin's signature (docs/protocol.md, "Authorship").
  personalHash @11 :Data;
}

# ---------------------------------------------------------------------------------------------
# Local (not replicated) bookkeeping stored beside the register.

struct FieldChange {
  field @0 :UInt16;
  key @1 :Text;
  old @2 :Text;                # only in entries without everyWrite (older stores)
  new @3 :Text;                # the value the change wrote
  replaces @4 :List(Version);  # the versions the write replaced, as its change names them
}

struct HistoryEntry {
  # One change as it affected one customer card. With everyWrite (every entry this version
  # writes), `changes` lists each write of the change with the value it wrote, and the value
  # before it is found at read time from the card's entries in version order: the history is a
  # function of the set of changes, the same on every site. With valuesInLog the writes are not
  # stored twice: they are read from the change's log entry, and written into the entry when
  # the log entry is compacted away (or sent in a snapshot). Entries of older stores (no
  # everyWrite) hold the old and new values seen where they were applied, and for a create only
  # the ordinals set in `createdFields`.
  at @0 :UInt64;            # HLC
  site @1 :UInt64;
  author @2 :Text;
  operation @3 :Operation;
  changes @4 :List(FieldChange);
  createdFields @5 :List(UInt16);
  seq @6 :UInt64;
  closed @7 :List(ClosedConflict);  # conflicts this change settled (a resolution)
  note @8 :Text;                    # the change's note
  everyWrite @9 :Bool;
  valuesInLog @10 :Bool;            # `changes` are its change's writes, read from the log entry
}

struct ClosedConflict {
  field @0 :UInt16;
  key @1 :Text;
  winner @2 :Head;          # the value shown while the conflict was open
  loser @3 :Head;           # the concurrent value kept beside it
}

struct KnownSeq {
  origin @0 :UInt64;
  seq @1 :UInt64;
}

struct PeerState {
  # What this node knows of a peer it had a session with (local, never replicated).
  siteId @0 :UInt64;
  name @1 :Text;
  endpoint @2 :Text;          # where this node reaches it; empty when the peer connected here
  lastContact @3 :UInt64;     # wall-clock milliseconds
  vector @4 :List(KnownSeq);  # the peer's vector at the end of the last session
  sent @5 :UInt64;            # changes sent to it, all sessions
  received @6 :UInt64;        # changes received from it
}

struct AllowedPeer {
  # A peer this node accepts (local, never replicated): its CURVE public key (Z85, 40
  # characters), and where it listens when this node connects to it.
  name @0 :Text;
  publicKey @1 :Text;
  endpoint @2 :Text;        # empty: it connects here
  addedAt @3 :UInt64;       # wall-clock milliseconds
  siteId @4 :UInt64;        # the site that proved this key is its own (a hello); 0: not yet
}

struct Meta {
  siteId @0 :UInt64;
  siteName @1 :Text;
  isHub @2 :Bool;
  lastSeq @3 :UInt64;       # last change seq this site originated
  lastHlc @4 :UInt64;       # never goes backwards across restarts
  nextAutoNumber @5 :UInt64;
  formatVersion @6 :UInt32;
  createdAt @7 :UInt64;
  # Counts of the records by state, kept by the apply path so that `status` needs no scan.
  activeCustomers @8 :UInt64;
  deactivatedCustomers @9 :UInt64;
  tombstones @10 :UInt64;
  # The deployment this register belongs to: made by `init --hub`, adopted by every other site
  # from its first peer that has one (0: not yet known). Sites of different deployments refuse
  # each other.
  deployment @11 :UInt64;
  # An unfinished snapshot bootstrap (join): the snapshot's vector and where the next chunk
  # starts, so that a second `join` resumes; empty once the snapshot is complete.
  snapshotVector @12 :List(KnownSeq);
  snapshotNextKey @13 :Data;
  snapshotPending @14 :Bool;
  droppedForErased @15 :UInt64;  # changes that arrived for an erased customer, not applied
  atRestKeyCheck @16 :Text;      # set: SSNs and journal text are sealed; a keyed hash tells the key
  # retired: the site's Ed25519 private key (32 bytes) until store format 2, which keeps it in
  # storage's local tables instead, out of every Meta read; still read once, by the upgrade that
  # moves it there. Never written, never reused.
  retiredSigningKey @17 :Data;
  unauthorized @18 :UInt64;      # settings or lease changes that came from a site other than the hub
  # Sites whose key was removed from the allow list: none of their changes past the seq held
  # then is applied here (so none is relayed from here either).
  revokedSites @19 :List(KnownSeq);
  refusedFromRevoked @20 :UInt64;  # changes not applied for that reason
  # A site that set settings before it joined a deployment offers them to the hub (they travel
  # in its log); here, an encoded Settings of the values it offered, so that `status` can say
  # which the deployment kept. Empty: nothing offered.
  offeredSettings @21 :Data;
  # Hub only: offered settings it kept (the deployment had no value of its own for them) and
  # refused (it had one).
  settingsOffersKept @22 :UInt64;
  settingsOffersRefused @23 :UInt64;
  # The join of the vectors a snapshot's chunks were read at, until this node's vector covers
  # it: a change up to it is applied to a record only if the record's history does not list it
  # (a chunk read later than the first already holds it).
  snapshotReadUpTo @24 :List(KnownSeq);
  # A filtered site (field laptop): the canonical filter it joined with; empty: the whole register.
  filter @25 :Text;
  # Restored from a backup and not yet caught up with its own changes: the lost copy may have
  # sent changes past the backup's lastSeq, so this site originates nothing until a session with
  # its hub (a hub: with any peer) has brought it every change of its own that peer holds.
  restored @26 :Bool;
}
