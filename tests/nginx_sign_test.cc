// dip_sign in a real nginx: requests proxied to a DIP stand-in over mutual
// TLS are signed, and an independent verifier (Python cryptography, in
// tools/dip_standin/dip_standin.py) checks every one.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "common/digest.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::Curl;
using testing::HttpResult;
using testing::PkiFile;
using testing::ReadFile;
using testing::Runfile;
using testing::WriteFile;

std::string SignConf(int port, int ingress, int plain, const std::string& api_key) {
  std::string ssl =
      "      proxy_http_version 1.1;\n"
      "      proxy_set_header Connection \"\";\n"
      "      proxy_ssl_certificate " + PkiFile("tls-client.pem") + ";\n"
      "      proxy_ssl_certificate_key " + PkiFile("tls-client.key") + ";\n"
      "      proxy_ssl_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
      "      proxy_ssl_verify on;\n"
      "      proxy_ssl_protocols TLSv1.2 TLSv1.3;\n";
  return
      "  dip_sign_identity mp-rsa certificate=" + PkiFile("signer-rsa.pem") + " key=" +
      PkiFile("signer-rsa.key") + ";\n"
      "  dip_sign_identity mp-ec certificate=" + PkiFile("signer-ec.pem") + " key=" +
      PkiFile("signer-ec.encrypted.key") + " passphrase_file=" + PkiFile("passphrase.txt") + ";\n"
      "  dip_sign_identity mp-p12 pkcs12=" + PkiFile("signer-rsa.p12") + " passphrase_file=" +
      PkiFile("passphrase.txt") + ";\n"
      "  map $http_x_participant $dip_identity {\n"
      "    default mp-rsa; ec mp-ec; p12 mp-p12; ghost nobody;\n  }\n"
      "  upstream localhost {\n    server 127.0.0.1:" + std::to_string(ingress) + ";\n"
      "    keepalive 8;\n  }\n"
      "  server {\n    listen 127.0.0.1:" + std::to_string(port) + ";\n"
      "    client_body_buffer_size 1k;\n    client_max_body_size 10m;\n"
      "    location /dip/ {\n      dip_sign $dip_identity;\n"
      "      dip_sign_api_key " + api_key + ";\n"
      "      proxy_set_header X-Sign-Status $dip_sign_status;\n"
      "      proxy_set_header X-Sign-Days $dip_sign_days_to_expiry;\n"
      "      proxy_pass https://localhost/;\n" + ssl +
      "    }\n"
      "    location /unbuffered/ {\n      dip_sign mp-rsa;\n"
      "      proxy_request_buffering off;\n"
      "      proxy_pass https://localhost/;\n" + ssl +
      "    }\n"
      "    location /plain/ {\n      dip_sign mp-rsa;\n"
      "      proxy_pass http://127.0.0.1:" + std::to_string(plain) + "/;\n"
      "    }\n"
      "  }\n";
}

class NginxSignTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ingress_ = new testing::Ingress(/*tls=*/true, /*mtls=*/true);
    plain_ = new testing::Ingress(/*tls=*/false, /*mtls=*/false);
    port_ = testing::FreePort();
    nginx_ = new testing::Nginx(SignConf(port_, ingress_->port(), plain_->port(), "primary-key-1"));
  }
  static void TearDownTestSuite() {
    delete nginx_;
    delete plain_;
    delete ingress_;
  }
  void SetUp() override {
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
    dir_ = testing::NewTempDir("sign");
  }
  HttpResult Send(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& extra = "") {
    WriteFile(dir_ + "/body", body);
    std::string data = body.empty() ? "" : " --data-binary @" + dir_ + "/body";
    return Curl("-X " + method + data + " " + extra + " 'http://127.0.0.1:" +
                std::to_string(port_) + path + "'");
  }
  void ExpectVerified(const HttpResult& r, const std::string& body) {
    EXPECT_EQ(r.status, 200) << r.raw << "\n" << nginx_->ErrorLog();
    EXPECT_NE(r.body.find("\"verified\": true"), std::string::npos) << r.body;
    Sha256 h = Sha256Of(body);
    EXPECT_NE(r.body.find("\"body_sha256\": \"" + Hex(h.data(), h.size()) + "\""),
              std::string::npos)
        << r.body;
  }

  static testing::Ingress* ingress_;
  static testing::Ingress* plain_;
  static testing::Nginx* nginx_;
  static int port_;
  std::string dir_;
};

testing::Ingress* NginxSignTest::ingress_ = nullptr;
testing::Ingress* NginxSignTest::plain_ = nullptr;
testing::Nginx* NginxSignTest::nginx_ = nullptr;
int NginxSignTest::port_ = 0;

std::string Sample() { return ReadFile(Runfile("tests/data/if-041-reading-cos.json")); }

TEST_F(NginxSignTest, SignsOverMutualTlsAndReplacesClientHeaders) {
  HttpResult r = Send("POST", "/dip/api/v1/Messages/IF-041", Sample(),
                      "-H 'X-DIP-Signature: forged' -H 'X-DIP-Content-Hash: forged' "
                      "-H 'X-API-KEY: stolen'");
  ExpectVerified(r, Sample());
  EXPECT_NE(r.body.find("\"api_key\": \"primary-key-1\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"path\": \"/api/v1/Messages/IF-041\""), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("forged"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("stolen"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"X-Sign-Status\": \"pending\""), std::string::npos) << r.body;
  // Days until the identity's certificate expires (CoCo 6.1.5 alerting).
  long days = (testing::PkiIdentity("signer-rsa")->info.not_after - WallClockMillis()) / 86400000;
  EXPECT_GT(days, 300);
  EXPECT_NE(r.body.find("\"X-Sign-Days\": \"" + std::to_string(days) + "\""), std::string::npos)
      << r.body;
  EXPECT_NE(nginx_->ErrorLog().find("dip_sign: signed POST https://localhost/api/v1/Messages/IF-041 as \"mp-rsa\""),
            std::string::npos);
}

TEST_F(NginxSignTest, EmptyBodyGet) {
  HttpResult r = Send("GET", "/dip/api/v1/status", "");
  ExpectVerified(r, "");
  EXPECT_NE(r.body.find("\"content_hash\": \"" + ContentHash("{}") + "\""), std::string::npos);
}

TEST_F(NginxSignTest, ChunkedAndSpilledBodies) {
  ExpectVerified(Send("POST", "/dip/chunked", Sample(), "-H 'Transfer-Encoding: chunked'"),
                 Sample());
  std::string big = "[";
  while (big.size() < 50000) big += Sample() + ",";
  big += "{}]";
  ExpectVerified(Send("POST", "/dip/big", big), big);
  ExpectVerified(Send("POST", "/dip/big", big, "-H 'Transfer-Encoding: chunked'"), big);
}

TEST_F(NginxSignTest, IdentityChosenByVariable) {
  for (const char* participant : {"ec", "p12"}) {
    HttpResult r = Send("POST", "/dip/x", Sample(), std::string("-H 'X-Participant: ") +
                                                         participant + "'");
    ExpectVerified(r, Sample());
  }
  EXPECT_NE(nginx_->ErrorLog().find("as \"mp-ec\""), std::string::npos);
  EXPECT_NE(nginx_->ErrorLog().find("as \"mp-p12\""), std::string::npos);
  HttpResult ghost = Send("POST", "/dip/x", Sample(), "-H 'X-Participant: ghost'");
  EXPECT_EQ(ghost.status, 500) << ghost.raw;
  EXPECT_NE(nginx_->ErrorLog().find("dip_sign: refused: no dip_sign_identity named 'nobody'"),
            std::string::npos);
}

TEST_F(NginxSignTest, UpstreamKeepAliveIsReused) {
  int most = 0;
  for (int i = 0; i < 6; ++i) {
    HttpResult r = Send("POST", "/dip/ka", Sample());
    ExpectVerified(r, Sample());
    size_t at = r.body.find("\"connection_requests\": ");
    if (at != std::string::npos) most = std::max(most, atoi(r.body.c_str() + at + 23));
  }
  EXPECT_GE(most, 2) << "the upstream connection was never reused";
}

TEST_F(NginxSignTest, DefaultDestinationIncludesUpstreamPort) {
  ExpectVerified(Send("POST", "/plain/api/IF-041", Sample()), Sample());
}

TEST_F(NginxSignTest, UnbufferedBodyFailsClosed) {
  // Read in one go, the body is complete when the upstream request is made.
  ExpectVerified(Send("POST", "/unbuffered/small", Sample()), Sample());
  // Streamed without buffering, it is not: the request is refused, never
  // sent unsigned.
  std::string big(400000, 'x');
  HttpResult r = Send("POST", "/unbuffered/big", big, "-H 'Transfer-Encoding: chunked'");
  EXPECT_GE(r.status, 500) << r.raw;
  EXPECT_NE(nginx_->ErrorLog().find("proxy_request_buffering must be on"), std::string::npos);
}

TEST(NginxSignReload, NewApiKeyWithoutRestart) {
  std::string behaviour = testing::NewTempDir("behaviour") + "/b";
  WriteFile(behaviour, "");
  testing::Ingress ingress(true, true, false, {"--behaviour-file", behaviour});
  testing::Ingress plain(false, false);
  int port = testing::FreePort();
  testing::Nginx nginx(SignConf(port, ingress.port(), plain.port(), "key-before"));
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string url = " 'http://127.0.0.1:" + std::to_string(port) + "/dip/x'";
  HttpResult before = Curl("-X POST --data-binary '{}'" + url);
  EXPECT_NE(before.body.find("\"api_key\": \"key-before\""), std::string::npos) << before.raw;
  // A request in flight during the reload completes on the old worker.
  WriteFile(behaviour, "slow 2000 1\n");
  std::string out = testing::NewTempDir("inflight") + "/out";
  auto in_flight = std::async(std::launch::async, [&] {
    return Curl("-X POST --data-binary '{\"in\":\"flight\"}'" + url);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(nginx.Reload(SignConf(port, ingress.port(), plain.port(), "key-after")));
  HttpResult during = in_flight.get();
  EXPECT_EQ(during.status, 200) << during.raw;
  EXPECT_NE(during.body.find("\"verified\": true"), std::string::npos) << during.raw;
  EXPECT_NE(during.body.find("\"api_key\": \"key-before\""), std::string::npos) << during.raw;
  HttpResult after = Curl("-X POST --data-binary '{}'" + url);
  EXPECT_NE(after.body.find("\"api_key\": \"key-after\""), std::string::npos) << after.raw;
  EXPECT_NE(after.body.find("\"verified\": true"), std::string::npos) << after.raw;
}

TEST(NginxSignConfig, MistakesFailConfigurationTest) {
  auto r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_sign nobody; "
                                "proxy_pass http://127.0.0.1:2; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no \"dip_sign_identity\" named \"nobody\""), std::string::npos)
      << r.output;
  r = testing::Nginx::Test("dip_sign_identity x certificate=" + PkiFile("signer-ec.pem") +
                           " key=" + PkiFile("signer-ec.encrypted.key") + ";");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("passphrase"), std::string::npos) << r.output;
  r = testing::Nginx::Test("dip_sign_identity x certificate=" + PkiFile("signer-rsa.pem") +
                           " key=" + PkiFile("signer-ec.key") + ";");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("does not match"), std::string::npos) << r.output;
  r = testing::Nginx::Test("dip_sign_identity x certificate=" + PkiFile("signer-rsa.pem") +
                           " key=" + PkiFile("signer-rsa.key") + " colour=red;");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown or empty parameter \"colour=red\""), std::string::npos)
      << r.output;
  r = testing::Nginx::Test("dip_sign_identity x certificate=" + PkiFile("signer-rsa.pem") +
                           " key=" + PkiFile("signer-rsa.key") +
                           "; server { listen 127.0.0.1:1; location / { dip_sign x; "
                           "dip_verify on; dip_verify_trusted_certificate " +
                           PkiFile("ca-bundle.pem") + "; dip_verify_revocation off; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("cannot both be on"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dipgate
