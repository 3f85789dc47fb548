// dip_verify in a real nginx: inbound webhooks signed by independent peers
// in every interop variant, and every way a message can be wrong.
#include <gtest/gtest.h>

#include "common/canonical.h"
#include "common/digest.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::Curl;
using testing::HttpResult;
using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::ShellQuote;
using testing::WriteFile;

std::string Sha256Hex(const std::string& s) {
  Sha256 h = Sha256Of(s);
  return Hex(h.data(), h.size());
}

using testing::VerifyLocation;

class NginxVerifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    echo_ = new testing::Ingress(/*tls=*/false, /*mtls=*/false, /*accept_all=*/true);
    port_ = testing::FreePort();
    nginx_ = new testing::Nginx(
        "  server {\n"
        "    listen 127.0.0.1:" + std::to_string(port_) + ";\n"
        "    client_body_buffer_size 1k;\n"
        "    client_max_body_size 10m;\n" +
        VerifyLocation("/webhook", "", echo_->port()) +
        VerifyLocation("/replay", "      dip_verify_replay on;\n", echo_->port()) +
        VerifyLocation("/allow", "      dip_verify_allow_organization \"Someone Else Ltd\";\n",
                       echo_->port()) +
        "  }\n");
  }
  static void TearDownTestSuite() {
    delete nginx_;
    delete echo_;
  }
  void SetUp() override {
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
    dir_ = testing::NewTempDir("verify");
  }

  std::string Url(const std::string& path = "/webhook") {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Headers from the Python peer, written to a file for curl -H @file.
  std::string PeerSign(const std::string& identity, const std::string& method,
                       const std::string& url, const std::string& body,
                       const std::string& variant = "postman", const std::string& ecdsa = "der",
                       const std::string& date = "", const std::string& peer = "python3") {
    WriteFile(dir_ + "/body", body);
    std::string d = date.empty() ? FormatSignatureDate(WallClockMillis()) : date;
    std::string interpreter = peer == "node" ? "node" : "/usr/bin/python3";
    std::string script = Runfile(peer == "node" ? "tests/peers/dip_peer.js" : "tools/dip_standin/dip_peer.py");
    auto r = RunCommand(interpreter + " " + script + " sign --variant " + variant + " --key " +
                        PkiFile(identity + ".key") + " --cert " + PkiFile(identity + ".pem") +
                        " --method " + method + " --url " + ShellQuote(url) + " --body " + dir_ +
                        "/body --date " + d + " --ecdsa " + ecdsa);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    WriteFile(dir_ + "/headers", r.output);
    return r.output;
  }

  HttpResult Send(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& extra = "") {
    WriteFile(dir_ + "/send", body);
    std::string data = body.empty() ? "" : " --data-binary @" + dir_ + "/send";
    return Curl("-X " + method + " -H @" + dir_ + "/headers" + data + " " + extra + " " +
                ShellQuote(Url(path)));
  }

  void ExpectRejected(const HttpResult& r, const std::string& reason, const std::string& header,
                      int status = 401) {
    EXPECT_EQ(r.status, status) << r.raw << "\n" << LogTail();
    EXPECT_NE(r.body.find("\"reason\":\"" + reason + "\""), std::string::npos) << r.body;
    if (!header.empty()) {
      EXPECT_NE(r.body.find("\"header\":\"" + header + "\""), std::string::npos) << r.body;
    }
    EXPECT_NE(nginx_->ErrorLog().find("dip_verify: rejected: " + reason), std::string::npos);
  }

  void ExpectAccepted(const HttpResult& r, const std::string& body) {
    EXPECT_EQ(r.status, 200) << r.raw << "\n" << LogTail();
    EXPECT_NE(r.body.find("\"X-Verified\": \"ok\""), std::string::npos) << r.body;
    // The exact bytes reached the application.
    EXPECT_NE(r.body.find("\"body_sha256\": \"" + Sha256Hex(body) + "\""), std::string::npos)
        << r.body;
  }

  static std::string LogTail() {
    std::string log = nginx_->ErrorLog();
    return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
  }

  static testing::Ingress* echo_;
  static testing::Nginx* nginx_;
  static int port_;
  std::string dir_;
};

testing::Ingress* NginxVerifyTest::echo_ = nullptr;
testing::Nginx* NginxVerifyTest::nginx_ = nullptr;
int NginxVerifyTest::port_ = 0;

std::string Sample() { return ReadFile(Runfile("tests/data/if-033-appointment-request.json")); }

TEST_F(NginxVerifyTest, AcceptsEveryPeerVariant) {
  struct Case {
    const char *peer, *variant, *identity, *ecdsa;
  } cases[] = {
      {"python3", "postman", "signer-rsa", "der"}, {"python3", "go", "signer-rsa", "der"},
      {"python3", "dotnet", "signer-rsa", "der"}, {"python3", "dotnet", "signer-ec", "p1363"},
      {"node", "postman", "signer-ec", "der"},    {"node", "go", "signer-rsa", "der"},
      {"node", "dotnet", "signer-ec", "p1363"},   {"node", "postman", "signer-rsa", "der"},
  };
  std::string body = Sample();
  for (const Case& c : cases) {
    std::string date = std::string(c.variant) == "dotnet"
                           ? FormatSignatureDate(WallClockMillis()).substr(0, 23) + "4567Z"
                           : "";
    PeerSign(c.identity, "POST", Url(), body, c.variant, c.ecdsa, date, c.peer);
    HttpResult r = Send("POST", "/webhook", body);
    SCOPED_TRACE(std::string(c.peer) + " " + c.variant + " " + c.identity + " " + c.ecdsa);
    ExpectAccepted(r, body);
    EXPECT_NE(r.body.find("\"X-Signer-Org\": \"Example Energy Ltd\""), std::string::npos);
  }
}

TEST_F(NginxVerifyTest, EmptyBodyGetIsHashedAsBraces) {
  PeerSign("signer-rsa", "GET", Url(), "");
  ExpectAccepted(Send("GET", "/webhook", ""), "");
}

TEST_F(NginxVerifyTest, ChunkedBody) {
  std::string body = Sample();
  PeerSign("signer-ec", "POST", Url(), body);
  ExpectAccepted(Send("POST", "/webhook", body, "-H 'Transfer-Encoding: chunked'"), body);
}

TEST_F(NginxVerifyTest, BodySpilledToTempFile) {
  std::string body = "{\"items\":[";
  while (body.size() < 40000) body += "{\"mpan\":\"1234567890123\",\"read\":42},";
  body += "{}]}";
  PeerSign("signer-rsa", "POST", Url(), body);
  ExpectAccepted(Send("POST", "/webhook", body), body);
  EXPECT_NE(nginx_->ErrorLog().find("a client request body is buffered to a temporary file"),
            std::string::npos);
}

TEST_F(NginxVerifyTest, TamperedBody) {
  PeerSign("signer-rsa", "POST", Url(), Sample());
  std::string tampered = Sample();
  tampered[20] ^= 1;
  ExpectRejected(Send("POST", "/webhook", tampered), "content_hash_mismatch", "X-DIP-Content-Hash");
}

TEST_F(NginxVerifyTest, TamperedHashWithMatchingBody) {
  std::string headers = PeerSign("signer-rsa", "POST", Url(), Sample());
  std::string other = Sample() + " ";
  size_t at = headers.find("X-DIP-Content-Hash: ");
  headers = headers.substr(0, at) + "X-DIP-Content-Hash: " + ContentHash(other) + "\n";
  WriteFile(dir_ + "/headers", headers);
  ExpectRejected(Send("POST", "/webhook", other), "signature_mismatch", "X-DIP-Signature");
}

TEST_F(NginxVerifyTest, WrongDestinationAndMethod) {
  PeerSign("signer-rsa", "POST", Url("/webhook-elsewhere"), Sample());
  ExpectRejected(Send("POST", "/webhook", Sample()), "signature_mismatch", "X-DIP-Signature");
  PeerSign("signer-rsa", "POST", Url(), Sample());
  ExpectRejected(Send("PUT", "/webhook", Sample()), "signature_mismatch", "X-DIP-Signature");
}

TEST_F(NginxVerifyTest, StaleAndFutureDates) {
  PeerSign("signer-rsa", "POST", Url(), Sample(), "postman", "der",
           FormatSignatureDate(WallClockMillis() - 10 * 60000));
  ExpectRejected(Send("POST", "/webhook", Sample()), "stale_date", "X-DIP-Signature-Date");
  PeerSign("signer-rsa", "POST", Url(), Sample(), "postman", "der",
           FormatSignatureDate(WallClockMillis() + 10 * 60000));
  ExpectRejected(Send("POST", "/webhook", Sample()), "future_date", "X-DIP-Signature-Date");
}

TEST_F(NginxVerifyTest, Replay) {
  PeerSign("signer-rsa", "POST", Url("/replay"), Sample());
  ExpectAccepted(Send("POST", "/replay", Sample()), Sample());
  ExpectRejected(Send("POST", "/replay", Sample()), "replayed", "X-DIP-Signature");
}

TEST_F(NginxVerifyTest, CertificateFaults) {
  struct Case {
    const char *identity, *reason;
  } cases[] = {{"signer-expired", "certificate_expired"},
               {"signer-not-yet-valid", "certificate_not_yet_valid"},
               {"signer-revoked", "certificate_revoked"},
               {"signer-prod", "wrong_environment"},
               {"signer-untrusted", "certificate_untrusted"},
               {"signer-wrong-key-usage", "wrong_key_usage"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.identity);
    PeerSign(c.identity, "POST", Url(), Sample());
    ExpectRejected(Send("POST", "/webhook", Sample()), c.reason, "X-DIP-Signature-Certificate");
  }
  // The audit line names the signer and the client.
  std::string log = nginx_->ErrorLog();
  EXPECT_NE(log.find("rejected: certificate_revoked header=X-DIP-Signature-Certificate "
                     "signer=\"CN=energydip-nonprod.example.co.uk,O=Example Energy Ltd,C=GB\""),
            std::string::npos);
  EXPECT_NE(log.find("client=127.0.0.1"), std::string::npos);
}

TEST_F(NginxVerifyTest, MissingDuplicatedAndMalformedHeaders) {
  std::string headers = PeerSign("signer-rsa", "POST", Url(), Sample());
  std::string first_line = headers.substr(0, headers.find('\n') + 1);
  WriteFile(dir_ + "/headers", headers.substr(first_line.size()));
  ExpectRejected(Send("POST", "/webhook", Sample()), "missing_header", "X-DIP-Signature");
  WriteFile(dir_ + "/headers", headers + first_line);
  ExpectRejected(Send("POST", "/webhook", Sample()), "duplicate_header", "X-DIP-Signature");
  WriteFile(dir_ + "/headers", "X-DIP-Signature: %%%not-base64\n" + headers.substr(first_line.size()));
  ExpectRejected(Send("POST", "/webhook", Sample()), "bad_base64", "X-DIP-Signature");
  WriteFile(dir_ + "/headers", "");
  ExpectRejected(Send("POST", "/webhook", Sample()), "missing_header", "X-DIP-Signature");
  // The core's one rule: the legacy certificate header counts only when the
  // standard one is absent, so repeating it beside the standard one is
  // harmless (nginx refused it before; dipctl did not).
  WriteFile(dir_ + "/headers",
            headers + "X-DIP-Certificate: stale\nX-DIP-Certificate: stale\n");
  ExpectAccepted(Send("POST", "/webhook", Sample()), Sample());
}

TEST_F(NginxVerifyTest, OversizedBody) {
  std::string big(100000, 'x');
  PeerSign("signer-rsa", "POST", Url(), big);
  ExpectRejected(Send("POST", "/webhook", big), "body_too_large", "", 413);
  ExpectRejected(Send("POST", "/webhook", big, "-H 'Transfer-Encoding: chunked'"),
                 "body_too_large", "", 413);
}

TEST_F(NginxVerifyTest, AllowList) {
  PeerSign("signer-rsa", "POST", Url("/allow"), Sample());
  ExpectRejected(Send("POST", "/allow", Sample()), "signer_not_allowed", "X-DIP-Signature-Certificate");
}

TEST(NginxVerifyConfig, MistakesFailConfigurationTest) {
  auto r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify on; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no \"dip_verify_trusted_certificate\" is set"), std::string::npos)
      << r.output;
  r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify on; "
                           "dip_verify_trusted_certificate " + PkiFile("ca-bundle.pem") + "; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no \"dip_verify_crl\" is set"), std::string::npos) << r.output;
  r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify on; "
                           "dip_verify_trusted_certificate /nonexistent.pem; "
                           "dip_verify_revocation off; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent.pem"), std::string::npos) << r.output;
  r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify_reject_status 200; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("between 400 and 599"), std::string::npos) << r.output;
  r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { dip_verify_environment staging; } }");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("dip_verify_environment"), std::string::npos) << r.output;
}

// Turning a check off works, and is said at start (fail closed by default,
// open only loudly).
TEST(NginxVerifyConfig, RelaxedChecksAreWarnedAbout) {
  std::string trust = "dip_verify on; dip_verify_trusted_certificate " +
                      PkiFile("ca-bundle.pem") + "; ";
  auto r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { " + trust +
                                "dip_verify_revocation off; dip_verify_environment prod; } }");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[warn]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dip_verify: revocation checking is off"), std::string::npos)
      << r.output;
  r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { " + trust +
                           "dip_verify_crl " + PkiFile("crls.pem") +
                           "; dip_verify_allow_expired_crl on; } }");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("dip_verify: CRLs past their nextUpdate are used"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("dip_verify: any environment prefix is accepted"), std::string::npos)
      << r.output;
  r = testing::Nginx::Test("server { listen 127.0.0.1:1; location / { " + trust +
                           "dip_verify_crl " + PkiFile("crls.pem") +
                           "; dip_verify_environment nonprod; } }");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("dip_verify:"), std::string::npos) << r.output;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A location shares its parent's trust store only when every trust
// directive is the same (MergeLocConf compares nginx_module's TrustConf as a
// whole). A store built anew warns about its relaxed checks, so each warning
// below appears once, from the one location that changed that directive
// (the server's own store relaxes nothing, and /same shares it).
TEST(NginxVerifyConfig, ALocationSharesTrustOnlyWhenNothingAboutTrustChanged) {
  auto r = testing::Nginx::Test(
      "server { listen 127.0.0.1:1;\n" + testing::DipVerifyTrust() +
      "  dip_verify_environment nonprod;\n"
      "  location /same { dip_verify_window 60s; }\n"
      "  location /expired-crl { dip_verify_allow_expired_crl on; }\n"
      "  location /any { dip_verify_environment any; }\n"
      "  location /no-revocation { dip_verify_revocation off; }\n"
      "}");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Count(r.output, "dip_verify: CRLs past their nextUpdate are used"), 1u) << r.output;
  EXPECT_EQ(Count(r.output, "dip_verify: any environment prefix is accepted"), 1u) << r.output;
  EXPECT_EQ(Count(r.output, "dip_verify: revocation checking is off"), 1u) << r.output;
}

// A CRL update reaches nginx on reload, without a restart.
TEST(NginxVerifyReload, PicksUpNewCrl) {
  std::string crl_dir = testing::NewTempDir("crl");
  WriteFile(crl_dir + "/issuing.crl", ReadFile(PkiFile("issuing-ca-expired.crl")));
  WriteFile(crl_dir + "/root.crl", ReadFile(PkiFile("root-ca.crl")));
  testing::Ingress echo(false, false, true);
  int port = testing::FreePort();
  std::string conf =
      "  server {\n    listen 127.0.0.1:" + std::to_string(port) + ";\n"
      "    location /webhook {\n      dip_verify on;\n"
      "      dip_verify_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
      "      dip_verify_crl " + crl_dir + "/issuing.crl;\n"
      "      dip_verify_crl " + crl_dir + "/root.crl;\n"
      "      proxy_pass http://127.0.0.1:" + std::to_string(echo.port()) + "/app;\n    }\n  }\n";
  testing::Nginx nginx(conf);
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/webhook";
  std::string dir = testing::NewTempDir("reload");
  auto send = [&] {
    auto s = RunCommand(Runfile("cli/dipctl") + " sign --cert " + PkiFile("signer-rsa.pem") +
                        " --key " + PkiFile("signer-rsa.key") + " --url " + url);
    WriteFile(dir + "/h", s.output);
    return Curl("-X POST -H @" + dir + "/h " + url);
  };
  // An expired CRL is our fault, not the sender's: 503 with Retry-After,
  // so the DIP retries (it drops a webhook answered 401).
  HttpResult before = send();
  EXPECT_EQ(before.status, 503) << before.raw;
  EXPECT_NE(before.body.find("\"reason\":\"crl_expired\""), std::string::npos) << before.body;
  EXPECT_NE(before.body.find("RCP1000 - Message Processing Failed"), std::string::npos)
      << before.body;
  auto head = RunCommand("curl -s -D - -o /dev/null -X POST -H @" + dir + "/h " + url);
  EXPECT_NE(head.output.find("Retry-After: 60"), std::string::npos) << head.output;
  WriteFile(crl_dir + "/issuing.crl", ReadFile(PkiFile("issuing-ca.crl")));
  ASSERT_TRUE(nginx.Reload(conf));
  HttpResult after = send();
  EXPECT_EQ(after.status, 200) << after.raw;
}

// Inbound mutual TLS is stock nginx; the module runs behind it.
TEST(NginxVerifyTls, MutualTlsRejectsUnknownClient) {
  testing::Ingress echo(false, false, true);
  int port = testing::FreePort();
  testing::Nginx nginx(
      "  server {\n" + testing::MutualTlsListen(port, "ssl") +
      "    ssl_protocols TLSv1.2 TLSv1.3;\n"
      "    ssl_verify_depth 2;\n"
      "    location /webhook {\n" + testing::DipVerifyTrust() +
      "      proxy_pass http://127.0.0.1:" + std::to_string(echo.port()) + "/app;\n    }\n  }\n");
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string url = "https://localhost:" + std::to_string(port) + "/webhook";
  std::string tls = " --cacert " + PkiFile("ca-bundle.pem") + " --resolve localhost:" +
                    std::to_string(port) + ":127.0.0.1 ";
  HttpResult none = Curl(tls + url);
  EXPECT_EQ(none.status, 400) << none.raw;
  HttpResult rogue = Curl(tls + "--cert " + PkiFile("signer-untrusted.pem") + " --key " +
                          PkiFile("signer-untrusted.key") + " " + url);
  EXPECT_TRUE(rogue.status == 400 || rogue.status == 0) << rogue.raw;
  std::string dir = testing::NewTempDir("mtls");
  auto s = RunCommand(Runfile("cli/dipctl") + " sign --method GET --cert " +
                      PkiFile("signer-ec.pem") + " --key " + PkiFile("signer-ec.key") +
                      " --url " + url);
  WriteFile(dir + "/h", s.output);
  HttpResult ok = Curl(tls + "--cert " + PkiFile("tls-client.pem") + " --key " +
                       PkiFile("tls-client.key") + " -H @" + dir + "/h " + url);
  EXPECT_EQ(ok.status, 200) << ok.raw;
}

}  // namespace
}  // namespace dipgate
