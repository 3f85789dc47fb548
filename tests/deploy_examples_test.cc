// The deploy/ examples stay valid: each nginx.conf passes `nginx -t` with
// the module loaded once its /etc/dipgate paths point at the test PKI, the
// bridge config passes --check, the systemd units pass systemd-analyze, the
// CRL refresh job fetches and checks real CRLs over HTTP, and logrotate
// rotates with the example's rules.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include "common/pki.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;

// Replaces every `from` in `text` by `to`; how many there were.
int ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  int n = 0;
  for (size_t pos = 0; (pos = text->find(from, pos)) != std::string::npos; pos += to.size()) {
    text->replace(pos, from.size(), to);
    ++n;
  }
  return n;
}

std::string Rewrite(std::string conf, const std::string& dir, int listen_port = 0,
                    int upstream_port = 9) {
  if (listen_port == 0) listen_port = testing::FreePort();
  const std::pair<std::string, std::string> map[] = {
      {"modules/ngx_http_dip_module.so", Runfile("nginx_module/ngx_http_dip_module.so")},
      {"/etc/dipgate/tls/server.pem", PkiFile("tls-server.pem")},
      {"/etc/dipgate/tls/server.key", PkiFile("tls-server.key")},
      {"/etc/dipgate/tls/client.pem", PkiFile("tls-client.pem")},
      {"/etc/dipgate/tls/client.key", PkiFile("tls-client.key")},
      {"/etc/dipgate/dca/ca-bundle.pem", PkiFile("ca-bundle.pem")},
      {"/etc/dipgate/dca/crls.pem", PkiFile("crls.pem")},
      {"/etc/dipgate/dca/issuing-ca.crl", PkiFile("issuing-ca.crl")},
      {"/etc/dipgate/dca/root-ca.crl", PkiFile("root-ca.crl")},
      {"/etc/dipgate/sign/mp-main.pem", PkiFile("signer-ec.pem")},
      {"/etc/dipgate/sign/mp-main.key", PkiFile("signer-ec.encrypted.key")},
      {"/etc/dipgate/sign/mp-main.pass", PkiFile("passphrase.txt")},
      {"/etc/dipgate/sign/mp-other.p12", PkiFile("signer-rsa.p12")},
      {"/etc/dipgate/sign/mp-other.pass", PkiFile("passphrase.txt")},
      {"/etc/dipgate/api-key.primary", PkiFile("passphrase.txt")},
      {"/etc/dipgate/api-key.secondary", PkiFile("passphrase.txt")},
      {"/usr/share/dipgate/schemas", Runfile("third_party/dip_api/schemas")},
      {"/var/log/dipgate/", dir + "/"},
      {"listen 443 ssl;", "listen 127.0.0.1:" + std::to_string(listen_port) + " ssl;"},
      {"listen 127.0.0.1:8443;", "listen 127.0.0.1:" + std::to_string(listen_port) + ";"},
      {"server ingress.dip.example:443;", "server 127.0.0.1:" + std::to_string(upstream_port) + ";"},
      {"proxy_pass http://127.0.0.1:8080;",
       "proxy_pass http://127.0.0.1:" + std::to_string(upstream_port) + ";"},
      // The test PKI's server certificate names localhost.
      {"proxy_ssl_name                ingress.dip.example;", "proxy_ssl_name localhost;"},
  };
  for (const auto& [from, to] : map) ReplaceAll(&conf, from, to);
  return conf;
}

class DeployExample : public ::testing::TestWithParam<const char*> {};

TEST_P(DeployExample, PassesNginxTest) {
  std::string dir = testing::NewTempDir("deploy");
  WriteFile(dir + "/nginx.conf", "error_log " + dir + "/error.log;\npid " + dir +
                                     "/nginx.pid;\n" + Rewrite(ReadFile(Runfile(GetParam())), dir));
  auto r = RunCommand(testing::NginxCommand() + " -t -p " + dir + " -c " + dir + "/nginx.conf");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("test is successful"), std::string::npos) << r.output;
}

// The example running: started as written (paths and ports aside), it
// answers a smoke request. Returns the output of the request.
class RunningExample {
 public:
  RunningExample(const std::string& example, int listen_port, int upstream_port)
      : dir_(testing::NewTempDir("deploy-run")) {
    WriteFile(dir_ + "/nginx.conf",
              "error_log " + dir_ + "/error.log;\npid " + dir_ + "/nginx.pid;\n" +
                  Rewrite(ReadFile(Runfile(example)), dir_, listen_port, upstream_port));
    auto r = RunCommand(Command(""));
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  ~RunningExample() {
    RunCommand(Command("-s stop"));
    for (int i = 0; i < 100 && !ReadFile(dir_ + "/nginx.pid").empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::string log = ReadFile(dir_ + "/error.log");
    EXPECT_EQ(log.find("[alert]"), std::string::npos) << log;
    EXPECT_EQ(log.find("[emerg]"), std::string::npos) << log;
  }
  std::string AccessLog(const std::string& name) { return ReadFile(dir_ + "/" + name); }

 private:
  std::string Command(const std::string& extra) {
    return testing::NginxCommand() + " -p " + dir_ + " -c " + dir_ + "/nginx.conf " + extra;
  }
  std::string dir_;
};

TEST(DeployExampleRunning, InboundVerifiesAWebhookAndRefusesATamperedOne) {
  testing::Ingress app(/*tls=*/false, /*mtls=*/false, /*accept_all=*/true);
  int port = testing::FreePort();
  RunningExample nginx("deploy/nginx/dip-inbound.conf", port, app.port());
  std::string send = "/usr/bin/python3 " + Runfile("tools/dip_standin/dip_standin.py") +
                     " send --url https://localhost:" + std::to_string(port) +
                     "/dip/webhook/IF-033 --cert " + PkiFile("signer-prod.pem") + " --key " +
                     PkiFile("signer-prod.key") + " --client-cert " + PkiFile("tls-client.pem") +
                     " --client-key " + PkiFile("tls-client.key") + " --server-ca " +
                     PkiFile("ca-bundle.pem") + " --body " + Runfile("tests/data/if-041-reading-cos.json");
  auto ok = RunCommand(send);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  // The application got the message with the verdict and signer from nginx.
  EXPECT_NE(ok.output.find("\"X-DIP-Verified\": \"ok\""), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("energydip-prod.example.co.uk"), std::string::npos) << ok.output;
  auto tampered = RunCommand(send + " --tamper");
  EXPECT_EQ(tampered.exit_code, 1) << tampered.output;
  EXPECT_NE(tampered.output.find("401\n"), std::string::npos) << tampered.output;
  EXPECT_NE(tampered.output.find("\"reason\":\"content_hash_mismatch\""), std::string::npos)
      << tampered.output;
  // Without a client certificate nginx refuses before the module runs.
  auto no_client_cert = testing::Curl("-s --cacert " + PkiFile("ca-bundle.pem") +
                                      " https://localhost:" + std::to_string(port) +
                                      "/dip/webhook/IF-033 -d x");
  EXPECT_EQ(no_client_cert.status, 400) << no_client_cert.raw;
  std::string log = nginx.AccessLog("dip-inbound.log");
  EXPECT_NE(log.find("dip=ok"), std::string::npos) << log;
  EXPECT_NE(log.find("dip=content_hash_mismatch"), std::string::npos) << log;
}

TEST(DeployExampleRunning, OutboundSignsForTheDipOverMutualTls) {
  testing::Ingress dip(/*tls=*/true, /*mtls=*/true);
  int port = testing::FreePort();
  RunningExample nginx("deploy/nginx/dip-outbound.conf", port, dip.port());
  auto r = testing::Curl("-s -H 'Content-Type: application/json' --data-binary @" +
                         Runfile("tests/data/if-033-appointment-request.json") +
                         " http://127.0.0.1:" + std::to_string(port) + "/api/v1/messages/IF-033");
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.body.find("\"verified\": true"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"api_key\": \"replace-with-primary-key\""), std::string::npos) << r.body;
  // The other identity, chosen by header, with its own API key.
  r = testing::Curl("-s -H 'X-DIP-Participant: other' --data-binary @" +
                    Runfile("tests/data/if-041-reading-cos.json") + " http://127.0.0.1:" +
                    std::to_string(port) + "/api/v1/messages/IF-041");
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_NE(r.body.find("\"api_key\": \"replace-with-other-key\""), std::string::npos) << r.body;
  EXPECT_NE(nginx.AccessLog("dip-outbound.log").find("identity=mp-other"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Nginx, DeployExample,
                         ::testing::Values("deploy/nginx/dip-inbound.conf",
                                           "deploy/nginx/dip-outbound.conf"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.find("inbound") != std::string::npos ? std::string("inbound")
                                                                          : std::string("outbound");
                         });

TEST(BridgeExample, PassesConfigurationCheck) {
  std::string dir = testing::NewTempDir("deploy");
  WriteFile(dir + "/bridge.json", Rewrite(ReadFile(Runfile("deploy/bridge/bridge.json")), dir));
  auto r = RunCommand(Runfile("kafka_bridge/dipgate-bridge") + " --config " + dir +
                      "/bridge.json --check");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("configuration ok"), std::string::npos) << r.output;
}

// An unreadable TLS key passphrase file fails the bridge at start, naming
// the file (it used to be ignored, showing up later as endless handshake
// retries).
TEST(BridgeExample, AnUnreadableTlsPassphraseFileFailsTheCheck) {
  std::string dir = testing::NewTempDir("deploy");
  std::string config = Rewrite(ReadFile(Runfile("deploy/bridge/bridge.json")), dir);
  std::string missing = dir + "/tls-key.pass";
  size_t at = config.find("\"min_version\"");
  ASSERT_NE(at, std::string::npos);
  config.insert(at, "\"client_key_passphrase_file\": \"" + missing + "\", ");
  WriteFile(dir + "/bridge.json", config);
  auto r = RunCommand(Runfile("kafka_bridge/dipgate-bridge") + " --config " + dir +
                      "/bridge.json --check");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("config: tls.client_key_passphrase_file: cannot read " + missing +
                          ": No such file or directory"),
            std::string::npos)
      << r.output;
}

// The schema directories load in the check as they do at start: a
// directory without the schemas (no index.json) fails the check, naming
// the key (it used to pass the check and fail the start).
TEST(BridgeExample, ADirectoryWithoutSchemasFailsTheCheck) {
  for (const char* key : {"\"schemas\"", "\"inbound\""}) {
    std::string dir = testing::NewTempDir("deploy");
    std::string config = Rewrite(ReadFile(Runfile("deploy/bridge/bridge.json")), dir);
    // The first "schemas" after the key: the outbound one, or inbound's.
    size_t at = config.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    size_t schemas = config.find(Runfile("third_party/dip_api/schemas"), at);
    ASSERT_NE(schemas, std::string::npos) << key;
    config.replace(schemas, Runfile("third_party/dip_api/schemas").size(), dir);
    WriteFile(dir + "/bridge.json", config);
    auto r = RunCommand(Runfile("kafka_bridge/dipgate-bridge") + " --config " + dir +
                        "/bridge.json --check");
    EXPECT_EQ(r.exit_code, 2) << key << ": " << r.output;
    std::string named = std::string(key) == "\"schemas\"" ? "config: schemas: " : "config: inbound.schemas: ";
    EXPECT_NE(r.output.find(named), std::string::npos) << r.output;
  }
}

// A directory served over plain HTTP, as a CA publishes its CRLs.
class HttpDirectory {
 public:
  explicit HttpDirectory(const std::string& dir) : port_(testing::FreePort()) {
    pid_ = std::stoi(RunCommand("cd " + testing::ShellQuote(dir) +
                                " && { /usr/bin/python3 -m http.server " + std::to_string(port_) +
                                " --bind 127.0.0.1 >/dev/null 2>&1 & echo $!; }")
                         .output);
    for (int i = 0; i < 100 && RunCommand("curl -s -o /dev/null http://127.0.0.1:" +
                                          std::to_string(port_) + "/")
                                       .exit_code != 0;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~HttpDirectory() { kill(pid_, SIGTERM); }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  int pid_;
};

class CrlRefresh : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::NewTempDir("crl-refresh"));
    mkdir((*dir_ + "/pki").c_str(), 0755);
    server_ = new HttpDirectory(*dir_ + "/pki");
    PkiOptions o;
    o.directory = *dir_ + "/pki";
    o.crl_url_base = server_->Url();
    auto files = CreateTestPki(o);
    ASSERT_TRUE(files) << files.error().detail;
  }
  static void TearDownTestSuite() { delete server_; }

  testing::CommandResult Refresh(const std::string& ca, const std::string& extra) {
    return RunCommand(Runfile("deploy/crl/dipgate-crl-refresh") + " --ca " + Pki(ca) +
                      " --cert " + Pki("signer-rsa.pem") + " --out " + Out() + " " + extra);
  }
  static std::string Pki(const std::string& name) { return *dir_ + "/pki/" + name; }
  static std::string Out() { return *dir_ + "/crls.pem"; }

  static std::string* dir_;
  static HttpDirectory* server_;
};
std::string* CrlRefresh::dir_;
HttpDirectory* CrlRefresh::server_;

TEST_F(CrlRefresh, FetchesEveryDistributionPointChecksAndReloadsOnlyOnChange) {
  std::string marker = *dir_ + "/reloaded";
  unlink(Out().c_str());
  auto r = Refresh("ca-bundle.pem", "--reload 'touch " + marker + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("/issuing-ca.crl: ok"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/root-ca.crl: ok"), std::string::npos) << r.output;
  struct stat st;
  EXPECT_EQ(stat(marker.c_str(), &st), 0) << "reload command not run";
  // The file is what the verifier loads: both CRLs, the revoked signer listed.
  std::string crls = ReadFile(Out());
  EXPECT_EQ(crls, ReadFile(Pki("crls.pem")));
  auto listed = RunCommand("openssl crl -in " + Out() + " -noout -text | grep -c 'Serial Number'");
  EXPECT_EQ(listed.output, "1\n");
  // Nothing changed upstream: no reload.
  unlink(marker.c_str());
  r = Refresh("ca-bundle.pem", "--reload 'touch " + marker + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("unchanged"), std::string::npos) << r.output;
  EXPECT_NE(stat(marker.c_str(), &st), 0) << "reloaded although nothing changed";
}

TEST_F(CrlRefresh, FailsClosedKeepingThePreviousFile) {
  WriteFile(Out(), "previous\n");
  struct Case {
    const char* ca;
    std::string extra;
    const char* why;
  } cases[] = {
      {"rogue-ca.pem", "", "CRL signature not made by a CA"},
      {"ca-bundle.pem", "--url " + server_->Url() + "/issuing-ca-expired.crl", "CRL expired"},
      {"ca-bundle.pem", "--url " + server_->Url() + "/no-such.crl", "fetching"},
      {"ca-bundle.pem", "--url " + server_->Url() + "/passphrase.txt", "is not a CRL"},
      {"ca-bundle.pem", "--max-bytes 100", "fetching"},
      {"no-such-bundle.pem", "", "cannot read the CA bundle"},
  };
  for (const Case& c : cases) {
    auto r = Refresh(c.ca, c.extra);
    EXPECT_EQ(r.exit_code, 1) << c.why << ": " << r.output;
    EXPECT_NE(r.output.find(c.why), std::string::npos) << r.output;
    EXPECT_EQ(ReadFile(Out()), "previous\n") << c.why;
  }
}

TEST(LogRotate, RotatesTheAuditLogsAndReopensNginx) {
  std::string dir = testing::NewTempDir("logrotate");
  mkdir((dir + "/log").c_str(), 0755);
  WriteFile(dir + "/log/dip-inbound.log", "a verified message\n");
  // A stand-in for nginx's master: USR1 ends it, which shows postrotate ran.
  auto sleeper = RunCommand("{ sleep 60 >/dev/null 2>&1 & echo $!; }");
  WriteFile(dir + "/nginx.pid", sleeper.output);
  std::string conf = ReadFile(Runfile("deploy/logrotate/dipgate"));
  const std::pair<std::string, std::string> map[] = {
      {"/var/log/dipgate/", dir + "/log/"},
      {"/run/nginx.pid", dir + "/nginx.pid"},
      {"create 0640 www-data adm", "create 0640"},
  };
  for (const auto& [from, to] : map) ASSERT_GT(ReplaceAll(&conf, from, to), 0) << from;
  WriteFile(dir + "/logrotate.conf", conf);
  auto r = RunCommand("/usr/sbin/logrotate -f -s " + dir + "/state " + dir + "/logrotate.conf");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rotated = RunCommand("ls " + dir + "/log");
  EXPECT_NE(rotated.output.find("dip-inbound.log-"), std::string::npos) << rotated.output;
  bool ended = false;
  for (int i = 0; i < 50 && !ended; ++i) {
    ended = kill(std::stoi(sleeper.output), 0) != 0;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ended) << "postrotate did not signal the nginx pid";
}

TEST(SystemdUnit, NamesTheBridgeAndItsSignals) {
  std::string unit = ReadFile(Runfile("deploy/systemd/dipgate-bridge.service"));
  EXPECT_NE(unit.find("ExecStart=/usr/local/bin/dipgate-bridge --config /etc/dipgate/bridge.json"),
            std::string::npos);
  EXPECT_NE(unit.find("ExecReload=/bin/kill -HUP $MAINPID"), std::string::npos);
}

// Every unit parses (the binaries under /usr/local/bin are not installed here).
TEST(SystemdUnit, UnitsPassSystemdAnalyze) {
  for (const char* unit : {"dipgate-bridge.service", "dipgate-crl-refresh.service",
                           "dipgate-crl-refresh.timer"}) {
    auto r = RunCommand("systemd-analyze verify --man=no " +
                        Runfile(std::string("deploy/systemd/") + unit) +
                        " 2>&1 | grep -v 'Command /usr/local/bin/.* is not executable' | "
                        "grep -iE 'error|unknown|invalid|missing' || true");
    EXPECT_EQ(r.output, "") << unit << ": " << r.output;
  }
}

}  // namespace
}  // namespace dipgate
