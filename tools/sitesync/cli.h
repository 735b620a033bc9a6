// Internal to the sitesync command: shared helpers of the subcommands (and, in
// tools/common/command_line.h, those it shares with sitesync-bench: errors, exit statuses, JSON).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "api/register_json.h"
#include "node/node.h"
#include "storage/store.h"
#include "tools/common/command_line.h"

namespace sitesync::cli {

// An opened, initialised data directory.
struct Site {
  std::unique_ptr<storage::Store> store;
  sync::SystemClock clock;
  std::unique_ptr<sync::FieldCipher> cipher;  // an encrypted store's key (outlives the engine)
  std::unique_ptr<sync::Engine> engine;
};
// The deployment key file for encrypted stores: --key-file (any command) or SITESYNC_KEY_FILE.
std::string& atRestKeyFile();
// The key in `path` (64 hex digits), refused when others may read the file.
std::unique_ptr<sync::FieldCipher> loadAtRestKey(const std::string& path);
// init/join --encrypt: the key of --key-file, made there if the file does not exist yet.
std::unique_ptr<sync::FieldCipher> deploymentKey(const std::string& dataDir);
std::unique_ptr<Site> openSite(const std::string& dir);
std::string defaultUser();

// "FIELD=VALUE" for a customer (FIELD: a field's name or custom.NAME); an unknown field is an
// error listing the valid ones. Settings likewise ("KEY=VALUE").
Result<sync::Edit> parseCustomerAssignment(std::string_view assignment);
Result<sync::Edit> parseSettingsAssignment(std::string_view assignment);
using api::customerFieldNamesList;
using api::settingsJson;
using api::siteLabel;
using api::SiteNames;
using api::siteNames;
using api::vectorJson;
// What the deployment made of a setting this site set before it joined: one line, and JSON.
std::string offeredSettingLine(const sync::OfferedSetting& offer);
nlohmann::json offeredSettingsJson(const std::vector<sync::OfferedSetting>& offers);
void printCustomer(const Customer& c);
void printCustomerLine(const Customer& c);
using api::customerJson;
using api::displayStatus;
std::string formatCents(int64_t cents);  // "12.50", "-3.05"
using api::fieldDisplayName;

void addCustomerCommands(CLI::App& app);
void addCardCommands(CLI::App& customer);       // customer contact|journal|discount ...
void addTransferCommands(CLI::App& customer);   // customer import|export (CSV)
void addDuplicateCommands(CLI::App& customer);  // customer duplicates
// After `customer add`: a note on stderr for each customer the new one may be.
void warnOfDuplicates(const sync::Engine& engine, RecordId added);
void addConflictCommands(CLI::App& app);   // conflicts list, resolve
void addNumberCommands(CLI::App& app);     // numbers
void addSiteCommands(CLI::App& app);       // init, settings, digest, status
void addNodeCommands(CLI::App& app);       // serve, sync
void addKeyCommands(CLI::App& app);        // keys show, peers add|remove|list
void addFieldCommands(CLI::App& app);      // fields define|list|retire (custom fields)
void addUserCommands(CLI::App& app);       // users add|list|remove|token (the API's users)
void addRecordCommands(CLI::App& app);     // record add|edit|show|list|delete|use
void addCatalogueCommands(CLI::App& app);  // groups|discount-types define|list|retire
void addConfigCommands(CLI::App& app);     // config check
void addBackupCommands(CLI::App& app);     // backup, restore
void addDoctorCommands(CLI::App& app);     // doctor [--repair]
void addMirrorCommands(CLI::App& app);     // mirror status
// serve --postgres: the DSN, kept (owner-only) in the data directory for `mirror status`.
void recordMirrorDsn(const std::string& dataDir, const std::string& dsn);
// `serve --config FILE` (TOML; each key a long option of serve, '_' for '-'): the arguments the
// file gives for the options `given` (serve's command line) does not name. A problem is a
// UsageError "FILE:LINE: ...". configProblems: every problem, one line each.
std::vector<std::string> configArguments(const CLI::App& serve, const std::string& path,
                                         const std::vector<std::string>& given);
std::vector<std::string> configProblems(const std::string& path);
// The words after `serve` as typed (main.cpp keeps them, before the file's are merged in).
std::vector<std::string>& serveCommandLine();
// serve's log (tools/sitesync/logging.cpp): a line per event on stderr, its level read from it.
void configureLog(const std::string& level, const std::string& format);  // "json" or "text"
void setLogLevel(const std::string& level);
const std::vector<std::string>& logLevelNames();
// `peer`: the peer the event is about (a field of its own in JSON lines); empty for none.
void logLine(const std::string& line, const std::string& peer = {});
// GET /metrics of `serve --api` (tools/sitesync/metrics.cpp), Prometheus' text format.
std::string nodeMetrics(const Site& site, const node::Server& server);
// customer assign|unassign, notifications list
void addTechnicianCommands(CLI::App& app, CLI::App& customer);

// A join's or sync's progress (`phase`: "snapshot" or "catch-up"; `held`: the records a resumed
// snapshot already had): a line redrawn on a terminal, or JSON lines with `json`, on stderr;
// empty when neither applies.
std::function<void(const node::TransferProgress&)> progressReporter(bool json,
                                                                    const std::string& phase,
                                                                    uint64_t held);

// Where to reach a peer given on the command line as a name or an endpoint, and the CURVE key
// it must prove (empty: plain TCP, only while this node's allow list was never configured).
struct ResolvedPeer {
  std::string endpoint;
  std::string key;
};
ResolvedPeer resolvePeer(const sync::Engine& engine, const std::string& peer);
bool isEndpoint(const std::string& text);  // "tcp://host:7400" and the like
// This node's keys for its links (made if a store from before keys existed has none).
node::Identity linkIdentity(const std::string& dataDir);

}  // namespace sitesync::cli
