// Transport against an endpoint that asks for the client certificate after
// the handshake, as Azure-hosted DIP endpoints do (issue 17): Debian's
// Apache httpd (tests/apache_fixture.h) in three modes, TLS 1.2
// renegotiation, TLS 1.3 post-handshake auth and TLS 1.2 with HTTP/2
// offered, each buffering 100 KB of body before the certificate.
//
// First the server's behaviour, shown with curl as the reference client (a
// body over 100 KB on a fresh connection is refused unless it waits for
// "Expect: 100-continue"), then each of our clients delivering 2 KB and
// 200 KB bodies on fresh and reused connections, with the client
// certificate on every request the server logged.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <sstream>

#include "common/dip/message.h"
#include "tests/apache_fixture.h"
#include "tests/kafka_fixture.h"

namespace dipgate {
namespace {

using testing::ApacheDip;
using testing::ApacheMode;
using testing::ApacheRequest;
using testing::Describe;
using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::Since;
using testing::WriteFile;

constexpr char kPath[] = "/dip-channel/IF-033";
constexpr size_t kLarge = 200 * 1024;

// The public IF-033 sample, `copies` times in one DIPMessageArray with
// distinct senderUniqueReferences ending in `tag` and the copy's index.
std::string Messages(const std::string& tag, int copies) {
  rapidjson::Document sample;
  sample.Parse(ReadFile(Runfile("tests/data/if-033-appointment-request.json")).c_str());
  rapidjson::Document out(rapidjson::kArrayType);
  for (int i = 0; i < copies; ++i) {
    rapidjson::Value m(sample[0], out.GetAllocator());
    std::string sur = "S-033-0123456789-SUP-20261201-" + tag + std::to_string(i);
    rapidjson::Pointer("/payload/CommonBlock/S1/senderUniqueReference")
        .Set(m, rapidjson::Value(sur.c_str(), out.GetAllocator()).Move(), out.GetAllocator());
    out.PushBack(m, out.GetAllocator());
  }
  return dip::ToJson(out);
}

// The client certificate's subject as Apache writes it (RFC 2253 order).
std::string ClientDn() {
  auto r = RunCommand("openssl x509 -noout -subject -nameopt RFC2253 -in " +
                      PkiFile("tls-client.pem"));
  std::string s = r.output.substr(r.output.find('=') + 1);
  s.erase(s.find_last_not_of("\n") + 1);
  return s;
}

struct Transfer {
  int status = 0;
  int connects = 0;  // new connections this transfer opened
  std::string http_version;
};

class AzureTransportTest : public ::testing::TestWithParam<ApacheMode> {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("azure");
    apache_ = std::make_unique<ApacheDip>(GetParam());
    ASSERT_TRUE(apache_->started());
    dn_ = ClientDn();
    ASSERT_FALSE(dn_.empty());
  }

  // A body file of exactly `size` bytes (its content does not matter to
  // Apache; the CGI script reads it whole).
  std::string BodyFile(size_t size) {
    std::string path = dir_ + "/body-" + std::to_string(size);
    WriteFile(path, std::string(size, 'x'));
    return path;
  }

  // One curl invocation posting each of `bodies` in turn on one connection
  // where it can (curl reuses it), with `headers` (already quoted -H ...).
  std::vector<Transfer> CurlPost(const std::vector<std::string>& bodies,
                                 const std::string& headers = "") {
    std::string cmd = "curl -sS --max-time 30";
    for (size_t i = 0; i < bodies.size(); ++i) {
      if (i > 0) cmd += " --next";
      cmd += " --cacert " + PkiFile("ca-bundle.pem") + " --cert " + PkiFile("tls-client.pem") +
             " --key " + PkiFile("tls-client.key") + " " + headers +
             " -H 'Content-Type: application/json' --data-binary @" + bodies[i] +
             " -o /dev/null -w '%{http_code} %{num_connects} %{http_version}\\n' " +
             apache_->url() + kPath;
    }
    auto r = RunCommand(cmd);
    std::vector<Transfer> out;
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
      Transfer t;
      char version[16] = {0};
      if (sscanf(line.c_str(), "%d %d %15s", &t.status, &t.connects, version) == 3) {
        t.http_version = version;
        out.push_back(t);
      }
    }
    EXPECT_EQ(out.size(), bodies.size()) << cmd << "\n" << r.output;
    return out;
  }

  // dipctl send of `body` (a DIPMessageArray), signed by the PKI's RSA signer,
  // over mTLS with the PKI's TLS client certificate.
  testing::CommandResult DipctlSend(const std::string& body, const std::string& extra = "") {
    std::string file = dir_ + "/send-" + std::to_string(++sends_) + ".json";
    WriteFile(file, body);
    return RunCommand(Runfile("cli/dipctl") + " send --body " + file + " --url " +
                      apache_->url() + " --cert " + PkiFile("signer-rsa.pem") + " --key " +
                      PkiFile("signer-rsa.key") + " --server-ca " + PkiFile("ca-bundle.pem") +
                      " --client-cert " + PkiFile("tls-client.pem") + " --client-key " +
                      PkiFile("tls-client.key") + " --schemas " +
                      Runfile("third_party/dip_api/schemas") + extra);
  }

  // Every request logged from `from` on: delivered (201) with the client
  // certificate, except HTTP/2 requests refused with HTTP_1_1_REQUIRED
  // (logged as 403 without a certificate) where HTTP/2 is offered.
  void ExpectDeliveredWithCertificate(size_t from, size_t delivered) {
    // Apache writes a line once its answer is out: wait for the deliveries'
    // lines, not only for as many lines (a refused HTTP/2 attempt's line
    // may be the only one there yet).
    std::vector<ApacheRequest> log;
    testing::WaitFor([&] {
      log = Since(apache_->Log(), from);
      return static_cast<size_t>(std::count_if(log.begin(), log.end(), [](const ApacheRequest& r) {
               return r.status == 201;
             })) >= delivered;
    }, 10000);
    size_t ok = 0;
    for (const ApacheRequest& r : log) {
      if (r.protocol == "HTTP/2.0" && GetParam() == ApacheMode::kTls12Http2Offered) {
        EXPECT_EQ(r.status, 403) << Describe(log);
        continue;
      }
      EXPECT_EQ(r.protocol, "HTTP/1.1") << Describe(log);
      EXPECT_EQ(r.status, 201) << Describe(log);
      EXPECT_EQ(r.client_dn, dn_) << Describe(log);
      EXPECT_EQ(r.path, kPath) << Describe(log);
      if (r.status == 201) ++ok;
    }
    EXPECT_EQ(ok, delivered) << Describe(log);
  }

  std::string TlsVersion() const {
    return GetParam() == ApacheMode::kTls13PostHandshake ? "TLSv1.3" : "TLSv1.2";
  }

  std::string dir_;
  std::string dn_;
  int sends_ = 0;
  std::unique_ptr<ApacheDip> apache_;
};

// The behaviour dipgate works around, as the reference client meets it: the
// certificate is asked for after the request; a body that outruns it by more
// than the 100 KB buffer is refused (413) on a connection without a
// certificate, and delivered when it waits for "Expect: 100-continue".
//
// Large bodies go over HTTP/1.1 (--http1.1), as dipgate sends them: with
// HTTP/2 offered, a large body already on its way over HTTP/2 is sometimes
// answered 403 instead of HTTP_1_1_REQUIRED, and no client retries that
// (seen in about one run in three).
TEST_P(AzureTransportTest, TheServerRefusesALargeBodyThatOutrunsTheCertificate) {
  std::string large = BodyFile(kLarge);
  auto refused = CurlPost({large}, "--http1.1");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].status, 413);
  auto log = apache_->Log(1);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().status, 413) << Describe(log);
  EXPECT_EQ(log.back().client_dn, "") << Describe(log);
  EXPECT_EQ(log.back().tls, TlsVersion()) << Describe(log);
  EXPECT_NE(apache_->ErrorLog().find("request body exceeds maximum size (102400) for SSL buffer"),
            std::string::npos)
      << apache_->ErrorLog();

  size_t from = apache_->Log().size();
  auto waited = CurlPost({large}, "--http1.1 -H 'Expect: 100-continue'");
  ASSERT_EQ(waited.size(), 1u);
  EXPECT_EQ(waited[0].status, 201);
  ExpectDeliveredWithCertificate(from, 1);
}

// HTTP/2 offered: curl's HTTP/2 request is refused with HTTP_1_1_REQUIRED
// and curl retries over HTTP/1.1 on a new connection.
TEST_P(AzureTransportTest, AnHttp2RequestEndsOnHttp11) {
  // curl asks for HTTP/2 (ALPN h2) on every mode. Where the server offers
  // it, the request needing the certificate is refused over HTTP/2: usually
  // with HTTP_1_1_REQUIRED, which curl follows over HTTP/1.1 on a second
  // connection; sometimes Apache answers 403 instead, which curl does not
  // follow (dipgate does: the bridge and dipctl tests below). Elsewhere ALPN
  // settles on HTTP/1.1 at once.
  auto t = CurlPost({BodyFile(2048)}, "--http2");
  ASSERT_EQ(t.size(), 1u);
  bool offered = GetParam() == ApacheMode::kTls12Http2Offered;
  auto log = apache_->Log(1);
  ASSERT_FALSE(log.empty());
  if (offered) {
    EXPECT_EQ(log[0].protocol, "HTTP/2.0") << Describe(log);
    EXPECT_EQ(log[0].status, 403) << Describe(log);
    EXPECT_EQ(log[0].client_dn, "") << Describe(log);
    if (t[0].status == 403) return;  // the plain 403: nothing more to see
    log = apache_->Log(2);
    ASSERT_EQ(log.size(), 2u) << Describe(log);
    EXPECT_EQ(t[0].connects, 2);
    EXPECT_NE(log[0].connection, log[1].connection);
  } else {
    EXPECT_EQ(t[0].connects, 1);
  }
  EXPECT_EQ(t[0].status, 201);
  EXPECT_EQ(t[0].http_version, "1.1");
  EXPECT_EQ(log.back().protocol, "HTTP/1.1");
  EXPECT_EQ(log.back().status, 201);
  EXPECT_EQ(log.back().client_dn, dn_);
}

// curl, each body on a fresh connection: 2 KB with and without Expect;
// 200 KB with Expect.
TEST_P(AzureTransportTest, CurlDeliversOnFreshConnections) {
  std::string small = BodyFile(2048), large = BodyFile(kLarge);
  for (const auto& [body, headers] :
       std::vector<std::pair<std::string, std::string>>{
           {small, "--http1.1"}, {small, "--http1.1 -H 'Expect: 100-continue'"},
           {large, "--http1.1 -H 'Expect: 100-continue'"}}) {
    size_t from = apache_->Log().size();
    auto t = CurlPost({body}, headers);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].status, 201) << body << " " << headers;
    EXPECT_GE(t[0].connects, 1);
    ExpectDeliveredWithCertificate(from, 1);
    auto mine = Since(apache_->Log(), from);
    EXPECT_EQ(mine.back().keepalive, 0) << Describe(mine);
    EXPECT_EQ(mine.back().tls, TlsVersion()) << Describe(mine);
  }
}

// curl, two URLs in one invocation over HTTP/1.1: the second request reuses
// the connection that already presented the certificate, so a 200 KB body
// needs no Expect there.
TEST_P(AzureTransportTest, CurlDeliversOnAReusedConnection) {
  std::string small = BodyFile(2048), large = BodyFile(kLarge);
  for (const auto& [bodies, headers] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{small, large}, "--http1.1"}, {{large, large}, "--http1.1 -H 'Expect: 100-continue'"}}) {
    size_t from = apache_->Log().size();
    auto t = CurlPost(bodies, headers);
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].status, 201) << headers;
    EXPECT_EQ(t[1].status, 201) << headers;
    EXPECT_EQ(t[1].connects, 0) << "the second request did not reuse the connection";
    ExpectDeliveredWithCertificate(from, 2);
    std::vector<ApacheRequest> mine;  // the HTTP/1.1 requests (HTTP/2 ones were refused)
    for (const ApacheRequest& r : Since(apache_->Log(), from)) {
      if (r.protocol == "HTTP/1.1") mine.push_back(r);
    }
    ASSERT_EQ(mine.size(), 2u) << Describe(Since(apache_->Log(), from));
    const ApacheRequest& first = mine[mine.size() - 2];
    const ApacheRequest& second = mine.back();
    EXPECT_EQ(first.connection, second.connection) << Describe(mine);
    EXPECT_EQ(second.keepalive, first.keepalive + 1) << Describe(mine);
    EXPECT_EQ(second.content_length, static_cast<long>(bodies[1] == large ? kLarge : 2048));
  }
}

// dipctl send: each call is a fresh connection. A 2 KB array and a 200 KB
// one (100 messages) both delivered: at 64 KB and over dipctl sends
// "Expect: 100-continue" (--expect-continue-bytes), so the body waits for
// the certificate.
TEST_P(AzureTransportTest, DipctlSendDelivers2KbAnd200KbOnFreshConnections) {
  std::string small = Messages("a", 1), large = Messages("b", 100);
  ASSERT_GT(large.size(), kLarge - 10 * 1024);
  for (const std::string& body : {small, large}) {
    size_t from = apache_->Log().size();
    auto r = DipctlSend(body);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("HTTP 201"), std::string::npos) << r.output;
    ExpectDeliveredWithCertificate(from, 1);
    auto mine = Since(apache_->Log(), from);
    ASSERT_FALSE(mine.empty());
    EXPECT_GE(mine.back().content_length, static_cast<long>(body.size())) << Describe(mine);
  }
}

// The same over HTTP/1.1 only (--no-http2): no HTTP/2 attempt at all.
TEST_P(AzureTransportTest, DipctlSendWithoutHttp2Delivers200Kb) {
  size_t from = apache_->Log().size();
  auto r = DipctlSend(Messages("c", 100), " --no-http2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ExpectDeliveredWithCertificate(from, 1);
  for (const ApacheRequest& q : Since(apache_->Log(), from)) EXPECT_EQ(q.protocol, "HTTP/1.1");
}

// nginx dip_sign proxying to the endpoint (stock Debian nginx, the module
// loaded). `/dip-channel/` signs; `/unsigned/` proxies the same way without
// dip_sign and without keep-alive (a fresh connection each time), to show
// what stock nginx does.
class NginxSignToAzureTest : public AzureTransportTest {
 protected:
  void SetUp() override {
    AzureTransportTest::SetUp();
    if (HasFatalFailure()) return;
    port_ = testing::FreePort();
    std::string tls = "      proxy_http_version 1.1;\n"
                      "      proxy_set_header Connection \"\";\n"
                      "      proxy_ssl_certificate " + PkiFile("tls-client.pem") + ";\n"
                      "      proxy_ssl_certificate_key " + PkiFile("tls-client.key") + ";\n"
                      "      proxy_ssl_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
                      "      proxy_ssl_verify on;\n"
                      "      proxy_ssl_name localhost;\n"
                      // nginx 1.22 offers TLS 1.3 upstream only when told.
                      "      proxy_ssl_protocols TLSv1.2 TLSv1.3;\n";
    nginx_ = std::make_unique<testing::Nginx>(
        "  dip_sign_identity mp-rsa certificate=" + PkiFile("signer-rsa.pem") + " key=" +
        PkiFile("signer-rsa.key") + ";\n"
        "  upstream dip {\n    server 127.0.0.1:" + std::to_string(apache_->port()) + ";\n"
        "    keepalive 4;\n  }\n"
        "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + ";\n"
        "    client_max_body_size 10m;\n"
        "    location /dip-channel/ {\n      dip_sign mp-rsa;\n"
        "      proxy_pass https://dip;\n" + tls + "    }\n"
        "    location /unsigned/ {\n"
        "      proxy_pass https://127.0.0.1:" + std::to_string(apache_->port()) +
        "/dip-channel/;\n" + tls + "    }\n"
        "  }\n");
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
  }

  int Post(const std::string& path, const std::string& body) {
    std::string file = dir_ + "/nginx-body-" + std::to_string(++sends_);
    WriteFile(file, body);
    auto h = testing::Curl("-H 'Content-Type: application/json' --data-binary @" + file +
                           " http://127.0.0.1:" + std::to_string(port_) + path);
    return h.status;
  }

  int port_ = 0;
  std::unique_ptr<testing::Nginx> nginx_;
};

// 2 KB signed and delivered with the certificate in every mode: under TLS
// 1.3 because the module enables post-handshake auth on the proxy's TLS
// context; the same proxy without dip_sign (stock nginx) gets 403 there.
TEST_P(NginxSignToAzureTest, SignedSmallBodiesAreDeliveredWithTheCertificate) {
  for (int i = 0; i < 2; ++i) {
    size_t from = apache_->Log().size();
    EXPECT_EQ(Post("/dip-channel/IF-033", Messages("n" + std::to_string(i), 1)), 201)
        << nginx_->ErrorLog() << apache_->ErrorLog();
    ExpectDeliveredWithCertificate(from, 1);
  }
  size_t from = apache_->Log().size();
  int unsigned_status = Post("/unsigned/IF-033", Messages("u", 1));
  auto log = Since(apache_->Log(from + 1), from);
  ASSERT_EQ(log.size(), 1u);
  if (GetParam() == ApacheMode::kTls13PostHandshake) {
    EXPECT_EQ(unsigned_status, 403) << "stock nginx has no post-handshake auth";
    EXPECT_EQ(log[0].client_dn, "") << Describe(log);
  } else {
    EXPECT_EQ(unsigned_status, 201);
    EXPECT_EQ(log[0].client_dn, dn_) << Describe(log);
  }
}

// 200 KB: on a fresh upstream connection the endpoint refuses it (nginx
// sends the body before the certificate is asked for, and cannot make it
// wait); the error log says why and where to send such bodies. On a
// keep-alive connection that already presented the certificate it is
// delivered.
TEST_P(NginxSignToAzureTest, ALargeSignedBodyOnAFreshConnectionIsRefusedAndExplained) {
  std::string large = Messages("L", 100);
  size_t from = apache_->Log().size();
  EXPECT_EQ(Post("/dip-channel/IF-033", large), 413);
  auto log = Since(apache_->Log(from + 1), from);
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().status, 413) << Describe(log);
  EXPECT_EQ(log.back().keepalive, 0) << Describe(log);
  std::string warning = "dip_sign: upstream answered 413 to a " + std::to_string(large.size()) +
                        "-byte signed body";
  EXPECT_NE(nginx_->ErrorLog().find(warning), std::string::npos) << nginx_->ErrorLog();
  EXPECT_NE(nginx_->ErrorLog().find("send bodies over 100 KB through dipgate-bridge or dipctl"),
            std::string::npos);

  // A small request opens a connection that shows the certificate; the
  // large one then goes on it.
  from = apache_->Log().size();
  EXPECT_EQ(Post("/dip-channel/IF-033", Messages("w", 1)), 201);
  EXPECT_EQ(Post("/dip-channel/IF-033", Messages("W", 100)), 201);
  ExpectDeliveredWithCertificate(from, 2);
  log = Since(apache_->Log(), from);
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[log.size() - 2].connection, log.back().connection) << Describe(log);
}

// The bridge, HTTP/2 on and off: from one key (so one at a time, in order),
// a 200 KB record first on a fresh connection, five 2 KB records on the
// reused one, another 200 KB record; every one delivered with the
// certificate, nothing dead-lettered. Large bodies wait for 100 Continue;
// where HTTP/2 is refused the bridge says so once and stays on HTTP/1.1.
class BridgeToAzureTest : public AzureTransportTest {
 protected:
  static void SetUpTestSuite() {
    broker_ = new testing::Broker();
    ASSERT_TRUE(broker_->Start());
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }

  // The bridge's metric `name`, -1 when absent.
  static int64_t Metric(int port, const std::string& name) {
    std::string m = testing::Curl("http://127.0.0.1:" + std::to_string(port) + "/metrics").body;
    size_t at = m.find("\n" + name + " ");
    return at == std::string::npos ? -1 : atoll(m.c_str() + at + name.size() + 2);
  }

  void Deliver(bool http2) {
    static int runs = 0;
    std::string topic = "azure-" + testing::ToString(GetParam()) + "-" + std::to_string(++runs);
    int metrics = testing::FreePort();
    std::string config = dir_ + "/bridge-" + std::to_string(runs) + ".json";
    WriteFile(config, R"({
  "kafka": {"bootstrap.servers": ")" + broker_->bootstrap() + R"(", "group.id": ")" + topic + R"("},
  "identities": [{"name": "mp", "certificate": ")" + PkiFile("signer-rsa.pem") + R"(",
                  "key": ")" + PkiFile("signer-rsa.key") + R"(", "dip_ids": ["8795183096"]}],
  "dip_base_url": ")" + apache_->url() + R"(",
  "routes": [{"topic": ")" + topic + R"("}],
  "tls": {"client_certificate": ")" + PkiFile("tls-client.pem") + R"(",
          "client_key": ")" + PkiFile("tls-client.key") + R"(", "ca": ")" + PkiFile("ca-bundle.pem") + R"("},
  "retry": {"initial_backoff_ms": 100, "max_backoff_ms": 1000},
  "dead_letter_topic": ")" + topic + R"(-dlq",
  "metrics_listen": "127.0.0.1:)" + std::to_string(metrics) + R"(",
  "http2": )" + (http2 ? "true" : "false") + "\n}\n");
    testing::Producer p(broker_->bootstrap());
    p.Send(topic, "k", Messages("L1x", 100), 0);
    for (int i = 0; i < 5; ++i) p.Send(topic, "k", Messages("s" + std::to_string(i) + "x", 1), 0);
    p.Send(topic, "k", Messages("L2x", 100), 0);
    p.Flush();
    size_t from = apache_->Log().size();
    testing::BridgeProcess bridge(config, dir_ + "/bridge.log");
    int64_t delivered = 0;
    for (int i = 0; i < 600 && delivered < 7; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      delivered = Metric(metrics, "dipgate_bridge_delivered_total");
    }
    EXPECT_EQ(delivered, 7) << testing::Tail(dir_ + "/bridge.log") << apache_->ErrorLog();
    EXPECT_EQ(Metric(metrics, "dipgate_bridge_dead_lettered_total"), 0);
    // Every mode ends on HTTP/1.1 (no HTTP/2 offered, or HTTP_1_1_REQUIRED):
    // with HTTP/2 asked for, the bridge noticed and pinned the endpoint.
    EXPECT_EQ(Metric(metrics, "dipgate_bridge_http1_fallback"), http2 ? 1 : 0);
    EXPECT_EQ(bridge.Stop(SIGTERM), 0);
    ExpectDeliveredWithCertificate(from, 7);
    auto log = Since(apache_->Log(from + 7), from);
    // The first 200 KB POST went on a fresh connection; a later one reused it.
    size_t first = 0;
    while (first < log.size() && log[first].status != 201) ++first;
    ASSERT_LT(first, log.size()) << Describe(log);
    EXPECT_GT(log[first].content_length, testing::kApacheRenegBuffer) << Describe(log);
    EXPECT_TRUE(std::any_of(log.begin(), log.end(),
                            [](const ApacheRequest& r) { return r.status == 201 && r.keepalive > 0; }))
        << Describe(log);
  }

  static inline testing::Broker* broker_ = nullptr;
};

TEST_P(BridgeToAzureTest, DeliversSmallAndLargeWithHttp2) { Deliver(true); }
TEST_P(BridgeToAzureTest, DeliversSmallAndLargeWithoutHttp2) { Deliver(false); }

// Every suite runs in the three modes, named after them.
constexpr ApacheMode kModes[] = {ApacheMode::kTls12Renegotiation, ApacheMode::kTls13PostHandshake,
                                 ApacheMode::kTls12Http2Offered};
std::string ModeName(const ::testing::TestParamInfo<ApacheMode>& info) {
  return testing::ToString(info.param);
}

INSTANTIATE_TEST_SUITE_P(Modes, BridgeToAzureTest, ::testing::ValuesIn(kModes), ModeName);
INSTANTIATE_TEST_SUITE_P(Modes, NginxSignToAzureTest, ::testing::ValuesIn(kModes), ModeName);
INSTANTIATE_TEST_SUITE_P(Modes, AzureTransportTest, ::testing::ValuesIn(kModes), ModeName);

}  // namespace
}  // namespace dipgate
