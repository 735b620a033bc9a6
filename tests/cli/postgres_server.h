// Shared by the CLI tests of the PostgreSQL mirror: a real PostgreSQL (Debian's postgresql-15)
// of the test's own: initdb into a fresh directory under /tmp (as the `postgres` user when the
// tests run as root, since PostgreSQL refuses to run as root), started on a free loopback port
// with its socket in that directory, killed or stopped by the test, removed at the end.
#pragma once

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>

// glibc 2.36's <sys/pidfd.h> (Debian 12) declares its functions without extern "C".
extern "C" {
#include <sys/pidfd.h>
}

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/cli/cli_support.h"

namespace {

// The newest /usr/lib/postgresql/N/bin holding initdb; "" when PostgreSQL is not installed.
std::string postgresBinaries() {
  std::string best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(entry.path() / "bin" / "initdb") && entry.path().string() > best)
      best = entry.path().string();
  return best.empty() ? "" : best + "/bin";
}

int freeLoopbackPort() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof a;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &length) != 0)
    throw std::system_error(errno, std::generic_category(), "a free port");
  close(s);
  return ntohs(a.sin_port);
}

class TempPostgres {
 public:
  TempPostgres() : bin_(postgresBinaries()), port_(freeLoopbackPort()) {
    BOOST_TEST_REQUIRE(!bin_.empty(),
                       "PostgreSQL is not installed (tools/install-deps installs "
                       "postgresql-15)");
    char pattern[] = "/tmp/sitesync-pg-XXXXXX";
    BOOST_TEST_REQUIRE(mkdtemp(pattern) != nullptr);
    dir_ = pattern;
    if (getuid() == 0) {
      const passwd* pg = getpwnam("postgres");
      BOOST_TEST_REQUIRE(pg != nullptr, "no postgres user to run PostgreSQL as");
      BOOST_TEST_REQUIRE(chown(dir_.c_str(), pg->pw_uid, pg->pw_gid) == 0);
    }
    const RunResult made = as({bin_ + "/initdb", "-D", dir_ + "/db", "-A", "trust", "-U",
                               "sitesync", "-E", "UTF8", "--no-sync", "--locale=C"});
    BOOST_TEST_REQUIRE(made.status == 0, made);
    start();
    dsn_ = "host=127.0.0.1 port=" + std::to_string(port_) + " user=sitesync dbname=postgres";
  }
  ~TempPostgres() {
    if (running_) as({bin_ + "/pg_ctl", "-D", dir_ + "/db", "-m", "immediate", "stop"});
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempPostgres(const TempPostgres&) = delete;
  TempPostgres& operator=(const TempPostgres&) = delete;

  const std::string& dsn() const { return dsn_; }
  int port() const { return port_; }

  // pg_ctl start, tried again for up to 30 s: after a crash, PostgreSQL refuses to start while
  // the killed server's backends still hold its shared memory.
  void start() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      const RunResult started =
          as({bin_ + "/pg_ctl", "-D", dir_ + "/db", "-l", dir_ + "/log", "-w", "-t", "60", "-o",
              "-p " + std::to_string(port_) + " -k " + dir_ + " -c listen_addresses=127.0.0.1",
              "start"});
      if (started.status == 0) break;
      const bool late = std::chrono::steady_clock::now() > deadline;
      BOOST_TEST_REQUIRE(!late, started);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    running_ = true;
  }
  // A crash: SIGKILL to the postmaster; returns once it has ended (a pidfd turns readable then,
  // whether or not anyone reaps it).
  void kill9() {
    std::ifstream pidFile(dir_ + "/db/postmaster.pid");
    pid_t postmaster = 0;
    BOOST_TEST_REQUIRE(static_cast<bool>(pidFile >> postmaster));
    const int process = pidfd_open(postmaster, 0);
    BOOST_TEST_REQUIRE(process >= 0, "pidfd_open: " << std::strerror(errno));
    BOOST_TEST_REQUIRE(kill(postmaster, SIGKILL) == 0);
    pollfd ended{process, POLLIN, 0};
    const int ready = poll(&ended, 1, 30000);
    close(process);
    BOOST_TEST_REQUIRE(ready == 1, "the killed PostgreSQL did not end within 30 s");
    running_ = false;
  }

  // The first column of the first row of `sql`'s answer ("" when none); fails the test when
  // PostgreSQL refuses.
  std::string query(const std::string& sql) const {
    PGconn* c = PQconnectdb(dsn_.c_str());
    std::string value;
    if (PQstatus(c) != CONNECTION_OK) {
      const std::string why = PQerrorMessage(c);
      PQfinish(c);
      BOOST_FAIL("cannot connect to the test's PostgreSQL: " << why);
    }
    PGresult* r = PQexec(c, sql.c_str());
    const auto status = PQresultStatus(r);
    const std::string why = PQresultErrorMessage(r);
    if (status == PGRES_TUPLES_OK && PQntuples(r) > 0) value = PQgetvalue(r, 0, 0);
    PQclear(r);
    PQfinish(c);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
      BOOST_FAIL("PostgreSQL refused " << sql << ": " << why);
    return value;
  }

 private:
  RunResult as(const std::vector<std::string>& command) const {
    if (getuid() != 0) return runProgram(command.front(), {command.begin() + 1, command.end()});
    std::vector<std::string> args = {"-u", "postgres", "--"};
    args.insert(args.end(), command.begin(), command.end());
    return runProgram("/usr/sbin/runuser", args);
  }
  std::string bin_;
  int port_;
  std::string dir_;
  std::string dsn_;
  bool running_ = false;
};

}  // namespace
