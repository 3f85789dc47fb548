// The Debian packages (deploy/packages.sh, deploy/debian), made from the
// binaries of this build configuration, as an operator gets them: lintian
// finds no error or warning; `apt install ./*.deb` into this machine's stock
// nginx; then `nginx -t` with the module loaded through
// /etc/nginx/modules-enabled, a verified request through the installed
// module, `dipgate-bridge --check` with the installed example configuration,
// `dipctl validate` with the installed schemas; then remove and purge: no
// file the packages owned is left, and /etc/nginx is as it was.
//
// Needs root (CI runs tests as root; skipped otherwise). The system nginx
// service is never started or stopped (`nginx -t` only); the test's own
// nginx runs with its own configuration and ports. If the packages are
// installed when the test starts and this test did not install them, it
// fails without touching them; if an earlier run of this test was killed
// with them installed, it purges them first.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::Curl;
using testing::HttpResult;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;

const char* const kPackages[] = {"libnginx-mod-http-dip", "dipgate-bridge", "dipctl"};
// Left while this test's packages are installed; names whether the test
// created the dipgate user (so a killed run is cleaned up by the next one).
const char kMarker[] = "/run/dipgate-packages-test.installed";
// What the packages' maintainer scripts create besides the packaged files.
const char* const kScriptFiles[] = {
    "/etc/nginx/modules-enabled/50-mod-http-dip.conf",
    "/etc/nginx/modules-enabled/50-mod-http-dip.conf.removed",
    "/var/lib/systemd/deb-systemd-helper-enabled/dipgate-bridge.service.dsh-also",
    "/var/lib/systemd/deb-systemd-helper-enabled/dipgate-crl-refresh.timer.dsh-also",
    "/var/lib/systemd/deb-systemd-helper-masked/dipgate-bridge.service",
    "/var/lib/systemd/deb-systemd-helper-masked/dipgate-crl-refresh.timer",
    "/etc/dipgate/dca/crls.pem",
    "/var/log/dipgate",
};
// Compared before installing and after purging.
const char* const kWatched[] = {
    "/etc/nginx", "/usr/lib/nginx", "/usr/share/nginx/modules-available", "/etc/logrotate.d",
    "/etc/dipgate", "/var/log/dipgate", "/usr/share/dipgate", "/lib/systemd/system",
    "/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
    "/var/lib/systemd/deb-systemd-helper-masked",
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Every path under the watched directories with its type, mode, owner and
// link target, and every regular file's checksum.
std::string Snapshot() {
  std::string dirs;
  for (const char* d : kWatched) dirs += std::string(" ") + d;
  auto r = RunCommand("for d in" + dirs + "; do [ -e $d ] || continue; "
                      "find $d -printf '%p %y %m %u %g %l\\n'; "
                      "find $d -type f -exec md5sum {} +; done 2>/dev/null | sort; "
                      "md5sum /etc/passwd /etc/group /etc/shadow /etc/gshadow");
  return r.output;
}

// The lines only in `before` (-) or only in `after` (+).
std::string Difference(const std::string& before, const std::string& after) {
  auto b = Lines(before), a = Lines(after);
  std::set<std::string> bs(b.begin(), b.end()), as(a.begin(), a.end());
  std::string diff;
  for (const auto& l : b) {
    if (!as.count(l)) diff += "- " + l + "\n";
  }
  for (const auto& l : a) {
    if (!bs.count(l)) diff += "+ " + l + "\n";
  }
  return diff;
}

std::string Installed(const std::string& package) {
  // Empty when dpkg knows nothing of it or only that it is not installed
  // (RunCommand adds 2>&1 at the end).
  std::string status = Trim(
      RunCommand("{ dpkg-query -W -f='${db:Status-Abbrev}' " + package + " 2>/dev/null; }").output);
  return status.rfind("un", 0) == 0 ? "" : status;
}

// apt-get, waiting for the dpkg lock rather than failing on it.
testing::CommandResult Apt(const std::string& args) {
  return RunCommand("apt-get -y -q -o DPkg::Lock::Timeout=120 " + args + " </dev/null");
}

struct State {
  bool root = false;
  std::string refused;        // why the test must not touch this machine
  std::string out;            // the .deb files
  std::map<std::string, std::string> debs;  // package -> file
  std::string version;
  bool installed = false;
  bool user_existed = false;
  std::string before;         // Snapshot() before installing
  std::map<std::string, bool> existed;  // packaged paths -> existed before installing
  std::string pki;            // made by the installed dipctl
};
State* g;

// A test PKI made by the installed dipctl, once.
const std::string& Pki() {
  if (g->pki.empty()) {
    std::string dir = testing::NewTempDir("pki") + "/pki";
    auto r = RunCommand("/usr/bin/dipctl pki --out " + dir);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (r.exit_code == 0) g->pki = dir;
  }
  return g->pki;
}

// The head of an nginx.conf like the stock one: the modules enabled in
// /etc/nginx/modules-enabled, run from nginx's own prefix (no -p), so their
// relative `modules/` path resolves as it does for the system nginx.
std::string ConfHead(const std::string& dir) {
  return "include /etc/nginx/modules-enabled/*.conf;\n"
         "user root root;\n"
         "worker_processes 1;\n"
         "error_log " + dir + "/error.log info;\n"
         "pid " + dir + "/nginx.pid;\n"
         "events { worker_connections 64; }\n";
}

std::string TempPaths(const std::string& dir) {
  std::string s;
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    s += std::string("  ") + t + "_temp_path " + dir + "/" + t + ";\n";
  }
  return s;
}

// The packages leave the dipgate system user after purge (Debian practice:
// files may still belong to it); the test removes it if it created it.
void DeleteUser() {
  RunCommand("{ deluser --quiet --system dipgate; "
             "! getent group dipgate >/dev/null || delgroup --quiet --system dipgate; } 2>&1");
}

void PurgeAndRestoreUser(bool delete_user) {
  std::string names;
  for (const char* p : kPackages) names += std::string(" ") + p;
  Apt("purge" + names);
  if (delete_user) DeleteUser();
  unlink(kMarker);
}

class DebianPackages : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The test's commands find dpkg's helpers, and nothing redirects dipctl
    // away from the installed schemas.
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
    setenv("DEBIAN_FRONTEND", "noninteractive", 1);
    unsetenv("DIPGATE_SCHEMAS");
    g = new State;
    g->root = geteuid() == 0;
    if (!g->root) return;
    g->version = Trim(ReadFile(Runfile("VERSION")));
    bool present = false;
    for (const char* p : kPackages) present = present || !Installed(p).empty();
    if (present && Exists(kMarker)) {
      // An earlier run was killed with the packages installed.
      PurgeAndRestoreUser(ReadFile(kMarker).find("user_created=1") != std::string::npos);
      present = false;
      for (const char* p : kPackages) present = present || !Installed(p).empty();
    }
    if (present) {
      g->refused = "dipgate packages are installed on this machine and this test did not "
                   "install them; it installs and purges them, so purge them first "
                   "(apt purge libnginx-mod-http-dip dipgate-bridge dipctl)";
    }
  }
  static void TearDownTestSuite() {
    // If a test stopped before RemovesAndPurgesCleanly, leave the machine as found.
    if (g->installed) PurgeAndRestoreUser(!g->user_existed);
    delete g;
  }
  void SetUp() override {
    if (!g->root) GTEST_SKIP() << "installs Debian packages: needs root";
    ASSERT_EQ(g->refused, "");
  }
};

TEST_F(DebianPackages, BuildsThreePackagesFromThisBuild) {
  g->out = testing::NewTempDir("debs");
  // The runfiles tree has the layout of bazel-bin: cli/dipctl, kafka_bridge/...
  std::string root = Runfile("VERSION");
  root = root.substr(0, root.size() - std::string("VERSION").size());
  auto r = RunCommand("bash " + Runfile("deploy/packages.sh") + " --prebuilt " + root + " " +
                      g->out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string arch = Trim(RunCommand("dpkg --print-architecture").output);
  for (const char* p : kPackages) {
    std::string deb = g->out + "/" + p + "_" + g->version + "_" + arch + ".deb";
    ASSERT_TRUE(Exists(deb)) << deb << "\n" << r.output;
    g->debs[p] = deb;
    EXPECT_EQ(Trim(RunCommand("dpkg-deb -f " + deb + " Version").output), g->version) << p;
  }
  // The module can only be installed beside the nginx it was built for.
  std::string abi = Trim(RunCommand("dpkg-query -W -f='${Provides}' nginx | "
                                    "grep -o 'nginx-abi-[^ ,]*'").output);
  ASSERT_NE(abi, "");
  std::string depends =
      RunCommand("dpkg-deb -f " + g->debs["libnginx-mod-http-dip"] + " Depends").output;
  EXPECT_NE(depends.find(abi), std::string::npos) << depends;
  EXPECT_NE(RunCommand("dpkg-deb -f " + g->debs["dipgate-bridge"] + " Depends").output.find(
                "adduser"),
            std::string::npos);
  // Configuration the operator edits is kept across upgrades and removal.
  EXPECT_NE(RunCommand("dpkg-deb -I " + g->debs["dipgate-bridge"] + " conffiles").output.find(
                "/etc/dipgate/bridge.json"),
            std::string::npos);
  EXPECT_NE(RunCommand("dpkg-deb -I " + g->debs["libnginx-mod-http-dip"] + " conffiles")
                .output.find("/etc/logrotate.d/dipgate"),
            std::string::npos);
}

TEST_F(DebianPackages, LintianFindsNoErrorOrWarning) {
  ASSERT_EQ(g->debs.size(), 3u);
  ASSERT_EQ(RunCommand("command -v lintian").exit_code, 0) << "lintian: run deploy/setup.sh";
  std::string files;
  for (const auto& [p, deb] : g->debs) files += " " + deb;
  auto r = RunCommand("lintian --no-cfg" + files);
  for (const std::string& line : Lines(r.output)) {
    EXPECT_FALSE(line.rfind("E: ", 0) == 0 || line.rfind("W: ", 0) == 0) << line;
  }
  EXPECT_NE(r.exit_code, 2) << r.output;  // lintian itself failed
}

TEST_F(DebianPackages, InstallWithAptIntoTheStockNginx) {
  ASSERT_EQ(g->debs.size(), 3u);
  g->user_existed = RunCommand("getent passwd dipgate").exit_code == 0;
  g->before = Snapshot();
  std::string files;
  for (const auto& [p, deb] : g->debs) {
    files += " " + deb;
    for (const std::string& line : Lines(RunCommand("dpkg-deb --fsys-tarfile " + deb +
                                                    " | tar -t").output)) {
      std::string path = line.substr(1);  // ./usr/bin/dipctl -> /usr/bin/dipctl
      while (path.size() > 1 && path.back() == '/') path.pop_back();
      if (path.size() > 1) g->existed[path] = Exists(path);
    }
  }
  for (const char* f : kScriptFiles) g->existed[f] = Exists(f);
  WriteFile(kMarker, std::string("installed by //tests:debian_packages_test\nuser_created=") +
                         (g->user_existed ? "0" : "1") + "\n");
  g->installed = true;
  auto r = Apt("install --no-install-recommends" + files);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* p : kPackages) EXPECT_EQ(Installed(p), "ii") << p;
  // The module is enabled the Debian way.
  char target[256] = {};
  ASSERT_GT(readlink("/etc/nginx/modules-enabled/50-mod-http-dip.conf", target, sizeof(target) - 1),
            0);
  EXPECT_STREQ(target, "/usr/share/nginx/modules-available/mod-http-dip.conf");
  EXPECT_EQ(ReadFile(target), "load_module modules/ngx_http_dip_module.so;\n");
}

TEST_F(DebianPackages, NginxTestPassesWithTheModuleLoaded) {
  ASSERT_TRUE(g->installed);
  // The stock configuration, which includes /etc/nginx/modules-enabled/*.conf.
  auto t = RunCommand(testing::NginxCommand() + " -t");
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("test is successful"), std::string::npos) << t.output;
  auto dump = RunCommand(testing::NginxCommand() + " -T");
  EXPECT_EQ(dump.exit_code, 0) << dump.output;
  EXPECT_NE(dump.output.find("# configuration file /etc/nginx/modules-enabled/"
                             "50-mod-http-dip.conf:\nload_module modules/ngx_http_dip_module.so;"),
            std::string::npos)
      << dump.output;
}

TEST_F(DebianPackages, InstalledModuleVerifiesARequest) {
  ASSERT_TRUE(g->installed);
  ASSERT_FALSE(Pki().empty());
  testing::Ingress app(/*tls=*/false, /*mtls=*/false, /*accept_all=*/true);
  int port = testing::FreePort();
  std::string dir = testing::NewTempDir("nginx");
  WriteFile(dir + "/nginx.conf",
            ConfHead(dir) +
                "http {\n"
                "  access_log " + dir + "/access.log;\n" + TempPaths(dir) +
                "  server {\n"
                "    listen 127.0.0.1:" + std::to_string(port) + ";\n"
                "    location /dip/webhook/ {\n"
                "      dip_verify on;\n"
                "      dip_verify_trusted_certificate " + g->pki + "/ca-bundle.pem;\n"
                "      dip_verify_crl " + g->pki + "/crls.pem;\n"
                "      dip_verify_environment nonprod;\n"
                "      proxy_set_header X-Verified $dip_verify_status;\n"
                "      proxy_set_header X-Signer $dip_signer_subject;\n"
                "      proxy_pass http://127.0.0.1:" + std::to_string(app.port()) + "/app;\n"
                "    }\n"
                "  }\n"
                "}\n");
  std::string nginx = testing::NginxCommand() + " -c " + dir + "/nginx.conf";
  auto start = RunCommand(nginx);
  ASSERT_EQ(start.exit_code, 0) << start.output;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/dip/webhook/IF-033";
  std::string body = Runfile("tests/data/if-033-appointment-request.json");
  WriteFile(dir + "/tampered.json", ReadFile(body) + " ");
  auto send = [&](const std::string& signer, const std::string& sent) {
    auto s = RunCommand("/usr/bin/dipctl sign --url " + url + " --body " + body + " --cert " +
                        g->pki + "/" + signer + ".pem --key " + g->pki + "/" + signer +
                        ".key --format headers > " + dir + "/headers");
    EXPECT_EQ(s.exit_code, 0) << s.output;
    return Curl("-H @" + dir + "/headers -H 'Content-Type: application/json' --data-binary @" +
                sent + " " + url);
  };
  HttpResult ok = send("signer-ec", body);
  HttpResult tampered = send("signer-rsa", dir + "/tampered.json");
  HttpResult revoked = send("signer-revoked", body);
  RunCommand(nginx + " -s stop");
  testing::WaitFor([&] { return !Exists(dir + "/nginx.pid"); }, 5000);

  EXPECT_EQ(ok.status, 200) << ok.raw;
  EXPECT_NE(ok.body.find("\"X-Verified\": \"ok\""), std::string::npos) << ok.body;
  EXPECT_NE(ok.body.find("energydip-nonprod.example.co.uk"), std::string::npos) << ok.body;
  EXPECT_EQ(tampered.status, 401) << tampered.raw;
  EXPECT_NE(tampered.body.find("\"reason\":\"content_hash_mismatch\""), std::string::npos)
      << tampered.body;
  EXPECT_EQ(revoked.status, 401) << revoked.raw;
  EXPECT_NE(revoked.body.find("\"reason\":\"certificate_revoked\""), std::string::npos)
      << revoked.body;
  std::string log = ReadFile(dir + "/error.log");
  EXPECT_EQ(log.find("[alert]"), std::string::npos) << log;
  EXPECT_EQ(log.find("[emerg]"), std::string::npos) << log;
}

// docs/operator-guide.md, "Installing": the inside of an example's http {}
// block goes to /etc/nginx/conf.d/, whose files the stock nginx.conf includes
// inside http {}. Here into a private configuration, with the test PKI in
// place of the files under /etc/dipgate.
TEST_F(DebianPackages, InstalledExamplesPassNginxTestAsTheGuideInstallsThem) {
  ASSERT_TRUE(g->installed);
  ASSERT_FALSE(Pki().empty());
  const std::string& pki = Pki();
  for (const char* example : {"dip-inbound.conf", "dip-outbound.conf"}) {
    SCOPED_TRACE(example);
    std::string dir = testing::NewTempDir("example");
    auto snippet = RunCommand(
        "sed -e '1,/^http {/d' -e '$d' /usr/share/doc/libnginx-mod-http-dip/examples/" +
        std::string(example));
    ASSERT_EQ(snippet.exit_code, 0) << snippet.output;
    std::string conf = snippet.output;
    EXPECT_EQ(conf.find("load_module"), std::string::npos) << conf;
    EXPECT_NE(conf.find("server {"), std::string::npos) << conf;
    const std::pair<std::string, std::string> map[] = {
        {"/etc/dipgate/tls/server.pem", pki + "/tls-server.pem"},
        {"/etc/dipgate/tls/server.key", pki + "/tls-server.key"},
        {"/etc/dipgate/tls/client.pem", pki + "/tls-client.pem"},
        {"/etc/dipgate/tls/client.key", pki + "/tls-client.key"},
        {"/etc/dipgate/dca/ca-bundle.pem", pki + "/ca-bundle.pem"},
        {"/etc/dipgate/dca/crls.pem", pki + "/crls.pem"},
        {"/etc/dipgate/sign/mp-main.pem", pki + "/signer-ec.pem"},
        {"/etc/dipgate/sign/mp-main.key", pki + "/signer-ec.encrypted.key"},
        {"/etc/dipgate/sign/mp-main.pass", pki + "/passphrase.txt"},
        {"/etc/dipgate/sign/mp-other.p12", pki + "/signer-rsa.p12"},
        {"/etc/dipgate/sign/mp-other.pass", pki + "/passphrase.txt"},
        {"/var/log/dipgate/", dir + "/"},
        // nginx resolves upstream names at start; the DIP's is an example.
        {"server ingress.dip.example:443;", "server 127.0.0.1:9;"},
    };
    for (const auto& [from, to] : map) {
      for (size_t pos = conf.find(from); pos != std::string::npos;
           pos = conf.find(from, pos + to.size())) {
        conf.replace(pos, from.size(), to);
      }
    }
    EXPECT_EQ(conf.find("/etc/dipgate/"), std::string::npos) << conf;
    WriteFile(dir + "/conf.d.conf", conf);
    WriteFile(dir + "/nginx.conf", ConfHead(dir) + "http {\n" + TempPaths(dir) +
                                       "  include " + dir + "/conf.d.conf;\n}\n");
    auto t = RunCommand(testing::NginxCommand() + " -t -c " + dir + "/nginx.conf");
    EXPECT_EQ(t.exit_code, 0) << t.output;
    EXPECT_NE(t.output.find("test is successful"), std::string::npos) << t.output;
  }
}

TEST_F(DebianPackages, BridgeChecksTheInstalledExampleConfiguration) {
  ASSERT_TRUE(g->installed);
  ASSERT_FALSE(Pki().empty());
  // As installed, the example names files the operator has yet to provide:
  // the check says which, so the unit's ExecStartPre refuses to start.
  auto unconfigured =
      RunCommand("/usr/bin/dipgate-bridge --config /etc/dipgate/bridge.json --check");
  EXPECT_EQ(unconfigured.exit_code, 2) << unconfigured.output;
  EXPECT_NE(unconfigured.output.find("cannot read /etc/dipgate/"), std::string::npos)
      << unconfigured.output;
  // With the files in place (here: the test PKI) it passes.
  std::string conf = ReadFile("/etc/dipgate/bridge.json");
  const std::pair<std::string, std::string> map[] = {
      {"/etc/dipgate/sign/mp-main.pem", g->pki + "/signer-ec.pem"},
      {"/etc/dipgate/sign/mp-main.key", g->pki + "/signer-ec.encrypted.key"},
      {"/etc/dipgate/sign/mp-main.pass", g->pki + "/passphrase.txt"},
      {"/etc/dipgate/sign/mp-other.p12", g->pki + "/signer-rsa.p12"},
      {"/etc/dipgate/sign/mp-other.pass", g->pki + "/passphrase.txt"},
      {"/etc/dipgate/tls/client.pem", g->pki + "/tls-client.pem"},
      {"/etc/dipgate/tls/client.key", g->pki + "/tls-client.key"},
      {"/etc/dipgate/dca/ca-bundle.pem", g->pki + "/ca-bundle.pem"},
      {"/etc/dipgate/api-key.primary", g->pki + "/passphrase.txt"},
      {"/etc/dipgate/api-key.secondary", g->pki + "/passphrase.txt"},
  };
  for (const auto& [from, to] : map) {
    size_t pos = conf.find(from);
    ASSERT_NE(pos, std::string::npos) << from;
    for (; pos != std::string::npos; pos = conf.find(from, pos + to.size())) {
      conf.replace(pos, from.size(), to);
    }
  }
  EXPECT_EQ(conf.find("/etc/dipgate/"), std::string::npos) << conf;
  std::string copy = testing::NewTempDir("bridge") + "/bridge.json";
  WriteFile(copy, conf);
  auto check = RunCommand("/usr/bin/dipgate-bridge --config " + copy + " --check");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("configuration ok"), std::string::npos) << check.output;

  // The unit runs the installed binary as the packages' system user, and
  // every installed unit passes systemd-analyze.
  EXPECT_EQ(RunCommand("getent passwd dipgate").exit_code, 0);
  EXPECT_EQ(Trim(RunCommand("stat -c '%U:%G %a' /etc/dipgate/sign").output), "root:dipgate 750");
  std::string unit = ReadFile("/lib/systemd/system/dipgate-bridge.service");
  EXPECT_NE(unit.find("ExecStart=/usr/bin/dipgate-bridge --config /etc/dipgate/bridge.json\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(unit.find("User=dipgate\n"), std::string::npos) << unit;
  EXPECT_EQ(ReadFile("/lib/systemd/system/dipgate-crl-refresh.service").find("/usr/local/"),
            std::string::npos);
  for (const char* u : {"dipgate-bridge.service", "dipgate-crl-refresh.service",
                        "dipgate-crl-refresh.timer"}) {
    auto r = RunCommand(std::string("systemd-analyze verify --man=no /lib/systemd/system/") + u +
                        " 2>&1 | grep -iE 'error|unknown|invalid|missing|not executable' || true");
    EXPECT_EQ(r.output, "") << u;
  }
}

// docs/operator-guide.md, "Monitoring": the alert rules and the dashboard
// come with the bridge's package, and the rules check and pass their unit
// tests where they are installed.
TEST_F(DebianPackages, MonitoringExamplesAreInstalledAndPassPromtool) {
  ASSERT_TRUE(g->installed);
  const std::string dir = "/usr/share/doc/dipgate-bridge/examples/";
  for (const char* f : {"dipgate-rules.yml", "dipgate-rules.test.yml", "dipgate.json"}) {
    EXPECT_TRUE(Exists(dir + f)) << dir << f << ":\n" << RunCommand("ls -l " + dir).output;
  }
  auto check = RunCommand("promtool check rules " + dir + "dipgate-rules.yml");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  auto tests = RunCommand("cd " + dir + " && promtool test rules dipgate-rules.test.yml");
  EXPECT_EQ(tests.exit_code, 0) << tests.output;
}

TEST_F(DebianPackages, DipctlValidatesWithTheInstalledSchemas) {
  ASSERT_TRUE(g->installed);
  std::string index = ReadFile("/usr/share/dipgate/schemas/index.json");
  ASSERT_NE(index, "");
  std::string dir = testing::NewTempDir("validate");
  std::string good = Runfile("tests/data/if-033-appointment-request.json");
  // From a directory with no Bazel runfiles, so only the installed copy can be found.
  auto ok = RunCommand("cd / && /usr/bin/dipctl validate --body " + good);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("1 message valid against DIP spec"), std::string::npos) << ok.output;
  // A message the installed IF-033 payload schema refuses.
  std::string bad = ReadFile(good);
  const std::string mpan = "\"MPANCore\":\"1234567890123\"";
  size_t pos = bad.find(mpan);
  ASSERT_NE(pos, std::string::npos);
  bad.replace(pos, mpan.size(), "\"MPANCore\":\"12\"");
  WriteFile(dir + "/bad.json", bad);
  auto refused = RunCommand("cd / && /usr/bin/dipctl validate --body " + dir + "/bad.json");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("schema:  IF-033-MSAppSPRequest"), std::string::npos)
      << refused.output;
}

TEST_F(DebianPackages, RemovesAndPurgesCleanly) {
  ASSERT_TRUE(g->installed);
  std::string names;
  for (const char* p : kPackages) names += std::string(" ") + p;
  auto removed = Apt("remove" + names);
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  // Removed: the module is no longer loaded, nginx's configuration still
  // passes, the operator's configuration stays until purge.
  EXPECT_FALSE(Exists("/etc/nginx/modules-enabled/50-mod-http-dip.conf"));
  auto t = RunCommand(testing::NginxCommand() + " -t");
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(Exists("/etc/dipgate/bridge.json"));
  EXPECT_FALSE(Exists("/usr/bin/dipgate-bridge"));

  auto purged = Apt("purge" + names);
  ASSERT_EQ(purged.exit_code, 0) << purged.output;
  for (const char* p : kPackages) EXPECT_EQ(Installed(p), "") << p;
  // Nothing the packages owned or their scripts made is left (shared
  // directories such as /usr/bin aside).
  for (const auto& [path, existed] : g->existed) {
    if (!existed) {
      EXPECT_FALSE(Exists(path)) << path << " left after purge";
    }
  }
  for (const char* p : kPackages) {
    EXPECT_EQ(RunCommand(std::string("{ ls /var/lib/dpkg/info/") + p + ".* 2>/dev/null; }").output,
              "");
  }
  // The dipgate system user stays after purge; this test created it, so it
  // removes it.
  EXPECT_EQ(RunCommand("getent passwd dipgate").exit_code, 0);
  if (!g->user_existed) DeleteUser();
  g->installed = false;
  unlink(kMarker);
  // /etc/nginx, the other watched directories and the user database are as
  // they were before the packages were installed.
  EXPECT_EQ(Difference(g->before, Snapshot()), "");
  t = RunCommand(testing::NginxCommand() + " -t");
  EXPECT_EQ(t.exit_code, 0) << t.output;
}

}  // namespace
}  // namespace dipgate
