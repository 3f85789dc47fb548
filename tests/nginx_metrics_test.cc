// dip_metrics in a real nginx with 2 workers: the counters agree with the
// requests sent (verdicts by reason, answers by status, replays, schema
// refusals, dip_sign by identity), whichever worker served them; they
// survive `nginx -s reload`; the gauges show when the signing identity's and
// the trusted CAs' certificates expire and each CRL's seconds to nextUpdate;
// and the
// output passes `promtool check metrics` (Debian's prometheus package).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "common/canonical.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::Curl;
using testing::HttpResult;
using testing::Ingress;
using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::ShellQuote;
using testing::WriteFile;

// The sample IF-033 message as a DIP egress array, its senderUniqueReference
// made unique by `n`.
std::string Webhook(int n) {
  std::string text = ReadFile(Runfile("tests/data/if-033-appointment-request.json"));
  std::string from = "S-005-1234567abc-SUP-20222313-12345678a";
  text.replace(text.find(from), from.size(), "S-033-0123456789-SUP-20261201-m" + std::to_string(n));
  while (!text.empty() && isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// The value of one sample of the text format ("name{labels}"), -1 if absent.
double Value(const std::string& metrics, const std::string& sample) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

class NginxMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("metrics");
    port_ = testing::FreePort();
    testing::NginxOptions two;
    two.workers = 2;
    nginx_ = std::make_unique<testing::Nginx>(Conf(), two);
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
  }

  std::string Conf() {
    return "  dip_metrics_zone dipmetrics:1m;\n"
           "  dip_verify_replay_zone dipreplay:1m;\n"
           "  dip_sign_identity mp-ec certificate=" + PkiFile("signer-ec.pem") + " key=" +
           PkiFile("signer-ec.key") + ";\n"
           "  map $http_x_who $who {\n    default mp-ec; ghost nobody;\n  }\n"
           "  log_format pid '$pid $status';\n"
           "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + " reuseport;\n"
           "    access_log $PREFIX/logs/pids.log pid;\n"
           "    location /dip/webhook/ {\n" + testing::DipVerifyTrust() +
           "      dip_verify_environment nonprod;\n"
           "      dip_verify_replay dipreplay;\n"
           "      dip_verify_schemas " + Runfile("third_party/dip_api/schemas") + ";\n"
           "      proxy_pass http://127.0.0.1:" + std::to_string(echo_.port()) + "/app;\n"
           "    }\n"
           "    location /out/ {\n      dip_sign $who;\n"
           "      proxy_pass http://127.0.0.1:" + std::to_string(echo_.port()) + "/;\n"
           "    }\n"
           "    location = /metrics {\n      dip_metrics;\n    }\n"
           "  }\n";
  }

  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/dip/webhook/if-033";
  }

  // Signs `body` as the DIP does (the Python peer, no dipgate code).
  void Sign(const std::string& body) {
    WriteFile(dir_ + "/body", body);
    auto r = RunCommand("/usr/bin/python3 " + Runfile("tools/dip_standin/dip_peer.py") +
                        " sign --key " + PkiFile("signer-ec.key") + " --cert " +
                        PkiFile("signer-ec.pem") + " --url " + ShellQuote(Url()) + " --body " +
                        dir_ + "/body --date " + FormatSignatureDate(WallClockMillis()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    WriteFile(dir_ + "/headers", r.output);
  }

  HttpResult Post(const std::string& body) {
    WriteFile(dir_ + "/send", body);
    return Curl("-X POST -H @" + dir_ + "/headers --data-binary @" + dir_ + "/send " +
                ShellQuote(Url()));
  }

  std::string Scrape() {
    HttpResult r = Curl("http://127.0.0.1:" + std::to_string(port_) + "/metrics");
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }

  Ingress echo_{false, false, true};
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<testing::Nginx> nginx_;
};

TEST_F(NginxMetricsTest, CountersAgreeAcrossWorkersSurviveAReloadAndPassPromtool) {
  // 12 accepted (each on a new connection: reuseport spreads them over the
  // workers), 3 tampered, 2 replays, 1 schema refusal; 5 signed requests.
  for (int i = 0; i < 12; ++i) {
    std::string body = Webhook(i);
    Sign(body);
    ASSERT_EQ(Post(body).status, 200) << i;
    if (i < 2) ASSERT_EQ(Post(body).status, 401) << "replay " << i;
    if (i < 3) {
      std::string tampered = body;
      tampered[tampered.find("SW1A")] = 'X';
      ASSERT_EQ(Post(tampered).status, 401) << "tampered " << i;
    }
  }
  std::string invalid = Webhook(100);
  invalid.replace(invalid.find("\"MPANCore\":\"") + 12, 13, "12");
  Sign(invalid);
  ASSERT_EQ(Post(invalid).status, 400);
  for (int i = 0; i < 5; ++i) {
    HttpResult r = Curl("-X POST --data-binary '{}' http://127.0.0.1:" + std::to_string(port_) +
                        "/out/signed");
    ASSERT_EQ(r.status, 200) << r.raw;
  }
  HttpResult ghost = Curl("-X POST -H 'X-Who: ghost' --data-binary '{}' http://127.0.0.1:" +
                          std::to_string(port_) + "/out/signed");
  EXPECT_EQ(ghost.status, 500) << ghost.raw;
  std::set<std::string> pids;
  std::istringstream log(ReadFile(nginx_->prefix() + "/logs/pids.log"));
  for (std::string line; std::getline(log, line);) pids.insert(line.substr(0, line.find(' ')));
  EXPECT_EQ(pids.size(), 2u) << "every request reached the same worker";

  std::string m = Scrape();
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_total{reason=\"ok\"}"), 12) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_total{reason=\"content_hash_mismatch\"}"), 3) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_total{reason=\"replayed\"}"), 2) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_total{reason=\"schema_invalid\"}"), 1) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_replays_total"), 2) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_schema_refusals_total"), 1) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_answers_total{status=\"200\"}"), 12) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_answers_total{status=\"401\"}"), 5) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_answers_total{status=\"400\"}"), 1) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_seconds_count"), 18) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_seconds_bucket{le=\"+Inf\"}"), 18) << m;
  EXPECT_GT(Value(m, "dipgate_nginx_verify_seconds_sum"), 0) << m;
  // Series that alerts watch exist at 0 before anything happens.
  EXPECT_EQ(Value(m, "dipgate_nginx_answers_total{status=\"503\"}"), 0) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_verify_total{reason=\"certificate_revoked\"}"), 0) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_sign_total{identity=\"mp-ec\",reason=\"ok\"}"), 5) << m;
  EXPECT_EQ(Value(m, "dipgate_nginx_sign_total{identity=\"-\",reason=\"unknown_identity\"}"),
            1) << m;
  // The gauges: the test PKI's signer is valid for about a year; its CAs
  // for longer; its CRLs are current.
  double days = (Value(m, "dipgate_nginx_certificate_expiry_timestamp_seconds{role=\"signing\","
                         "name=\"mp-ec\"}") -
                  WallClockMillis() / 1000.0) / 86400;
  EXPECT_GT(days, 300) << m;
  EXPECT_LT(days, 400) << m;
  EXPECT_NE(m.find("dipgate_nginx_certificate_expiry_timestamp_seconds{role=\"trust\",name=\""),
            std::string::npos) << m;
  size_t crl = m.find("\ndipgate_nginx_crl_next_update_seconds{issuer=\"");
  ASSERT_NE(crl, std::string::npos) << m;
  EXPECT_GT(std::stod(m.substr(m.find("} ", crl) + 2)), 0) << m;
  EXPECT_NE(m.find("\ndipgate_nginx_crl_loaded_timestamp_seconds{issuer=\""), std::string::npos);

  // The Prometheus text format, checked by Prometheus's own tool.
  WriteFile(dir_ + "/scrape.txt", m);
  auto check = RunCommand("promtool check metrics < " + dir_ + "/scrape.txt");
  EXPECT_EQ(check.exit_code, 0) << check.output << m;

  // Kept over a reload, and counting on.
  ASSERT_TRUE(nginx_->Reload(Conf())) << nginx_->ErrorLog();
  std::string after = Scrape();
  EXPECT_EQ(Value(after, "dipgate_nginx_verify_total{reason=\"ok\"}"), 12) << after;
  EXPECT_EQ(Value(after, "dipgate_nginx_sign_total{identity=\"mp-ec\",reason=\"ok\"}"), 5) << after;
  std::string one_more = Webhook(200);
  Sign(one_more);
  ASSERT_EQ(Post(one_more).status, 200);
  EXPECT_EQ(Value(Scrape(), "dipgate_nginx_verify_total{reason=\"ok\"}"), 13);
}

TEST(NginxMetrics, DipMetricsNeedsItsZone) {
  auto t = testing::Nginx::Test("server { listen 127.0.0.1:1; location /m { dip_metrics; } }");
  EXPECT_NE(t.exit_code, 0);
  EXPECT_NE(t.output.find("\"dip_metrics\" needs a \"dip_metrics_zone NAME:SIZE\""),
            std::string::npos) << t.output;
  auto size = testing::Nginx::Test("dip_metrics_zone m:1k;");
  EXPECT_NE(size.exit_code, 0);
  EXPECT_NE(size.output.find("\"dip_metrics_zone\" \"m\": size must be at least"),
            std::string::npos) << size.output;
}

}  // namespace
}  // namespace dipgate
