// The deploy/ examples stay valid: each passes `nginx -t` with the module
// loaded, once its /etc/dipgate paths point at the test PKI.
#include <gtest/gtest.h>

#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;

std::string Rewrite(std::string conf, const std::string& dir) {
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
      {"/var/log/nginx/", dir + "/"},
      {"listen 443 ssl;", "listen 127.0.0.1:" + std::to_string(testing::FreePort()) + " ssl;"},
      {"server ingress.dip.example:443;", "server 127.0.0.1:9;"},
  };
  for (const auto& [from, to] : map) {
    for (size_t pos = 0; (pos = conf.find(from, pos)) != std::string::npos; pos += to.size()) {
      conf.replace(pos, from.size(), to);
    }
  }
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

TEST(SystemdUnit, NamesTheBridgeAndItsSignals) {
  std::string unit = ReadFile(Runfile("deploy/systemd/dipgate-bridge.service"));
  EXPECT_NE(unit.find("ExecStart=/usr/local/bin/dipgate-bridge --config /etc/dipgate/bridge.json"),
            std::string::npos);
  EXPECT_NE(unit.find("ExecReload=/bin/kill -HUP $MAINPID"), std::string::npos);
  auto r = RunCommand("command -v systemd-analyze >/dev/null && systemd-analyze verify --man=no " +
                      Runfile("deploy/systemd/dipgate-bridge.service") + " 2>&1 | "
                      "grep -v 'Command /usr/local/bin/dipgate-bridge is not executable' | "
                      "grep -iE 'error|unknown|invalid' || true");
  EXPECT_EQ(r.output, "") << r.output;
}

}  // namespace
}  // namespace dipgate
