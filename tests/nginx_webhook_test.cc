// nginx's dip_verify as a DIP webhook receiver: refusals answered the way
// the DIP expects (StandardResponse, 401/400 for the sender's faults, 503 +
// Retry-After for ours, so that the DIP retries), schema validation of the
// egress arrays, replay protection shared by the workers, no exception
// crossing into nginx; and the DIP sandbox's real webhooks retried through
// an expired CRL until it is refreshed.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <set>
#include <sstream>
#include <thread>

#include "common/canonical.h"
#include "common/dip/message.h"
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
using testing::WaitFor;
using testing::WriteFile;


// A DIPMessageEgressArray of `count` copies of the IF-033 sample, each with
// the D0 block the DIP adds (transactionID T-<i>), `mpan` in message `bad`.
std::string EgressArray(int count, int bad = -1, const char* mpan = "\"12345678901x3\"") {
  rapidjson::Document d;
  d.Parse(ReadFile(Runfile("tests/data/if-033-appointment-request.json")).c_str());
  rapidjson::Document out;
  out.SetArray();
  for (int i = 0; i < count; ++i) {
    rapidjson::Value m(d[0], out.GetAllocator());
    std::string id = "T-IF-033-8795183096-REGS-20261201-00000000000000" + std::to_string(10 + i);
    std::string d0 = R"({"transactionID":")" + id +
                     R"(","transactionTimestamp":"2026-12-01T10:00:00+00:00","publicationID":"PUB-033",)"
                     R"("initialCorrelationID":null,"replayIndicator":false,"serviceTicketURL":null})";
    rapidjson::Document block(&out.GetAllocator());
    block.Parse(d0.c_str());
    rapidjson::Pointer("/payload/CommonBlock/D0").Set(m, block, out.GetAllocator());
    if (i == bad) {
      rapidjson::Document v(&out.GetAllocator());
      v.Parse(mpan);
      rapidjson::Pointer("/payload/CommonBlock/M0/MPANCore").Set(m, v, out.GetAllocator());
    }
    out.PushBack(m, out.GetAllocator());
  }
  return dip::ToJson(out);
}

class Receiver {
 public:
  // nginx with `trust` and `location_lines` in a /dip/webhook/ location
  // proxying to an echo application.
  // `echo_args`: more options of the echo application (--behaviour-file).
  Receiver(const std::string& location_lines, testing::NginxOptions options = {},
           const std::string& http_lines = "", const std::string& trust = testing::DipVerifyTrust(),
           const std::vector<std::string>& echo_args = {})
      : echo_(false, false, true, echo_args),
        port_(testing::FreePort()),
        dir_(testing::NewTempDir("hook")) {
    conf_ = http_lines + "  log_format pid '$pid $status';\n"
            "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + " reuseport;\n"
            "    access_log $PREFIX/logs/pids.log pid;\n"
            "    location /dip/webhook/ {\n" + trust + location_lines +
            "      proxy_pass http://127.0.0.1:" + std::to_string(echo_.port()) + "/app;\n"
            "    }\n  }\n";
    nginx_ = std::make_unique<testing::Nginx>(conf_, options);
  }

  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/dip/webhook/if-033";
  }

  // Signs `body` as the DIP does (the Python peer) and keeps the headers.
  void Sign(const std::string& body, const std::string& identity = "signer-ec") {
    WriteFile(dir_ + "/body", body);
    auto r = RunCommand("/usr/bin/python3 " + Runfile("tools/dip_standin/dip_peer.py") +
                        " sign --key " + PkiFile(identity + ".key") + " --cert " +
                        PkiFile(identity + ".pem") + " --url " + ShellQuote(Url()) +
                        " --body " + dir_ + "/body --date " +
                        FormatSignatureDate(WallClockMillis()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    WriteFile(dir_ + "/headers", r.output);
  }

  HttpResult Post(const std::string& body, const std::string& extra = "") {
    WriteFile(dir_ + "/send", body);
    return Curl("-X POST -H @" + dir_ + "/headers --data-binary @" + dir_ + "/send " + extra +
                " " + ShellQuote(Url()));
  }

  testing::Nginx& nginx() { return *nginx_; }

 private:
  Ingress echo_;
  int port_;
  std::string dir_;
  std::string conf_;
  std::unique_ptr<testing::Nginx> nginx_;
};

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  return d;
}

TEST(NginxWebhook, ASendersFaultIsAStandardResponseTheDipDoesNotRetry) {
  Receiver hook("      dip_verify_environment nonprod;\n"
                "      dip_verify_participant_id 0140321855;\n");
  ASSERT_TRUE(hook.nginx().started()) << hook.nginx().start_output();
  std::string body = EgressArray(2);
  hook.Sign(body);
  HttpResult ok = hook.Post(body);
  EXPECT_EQ(ok.status, 200) << ok.raw;

  std::string tampered = body;
  tampered[tampered.find("SW1A")] = 'X';
  HttpResult r = hook.Post(tampered);
  EXPECT_EQ(r.status, 401) << r.raw;  // the DIP does not retry 401
  rapidjson::Document d = Parse(r.body);
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_STREQ(d["reason"].GetString(), "content_hash_mismatch");
  EXPECT_STREQ(d["header"].GetString(), "X-DIP-Content-Hash");
  ASSERT_TRUE(d["timestamp"].IsString());
  EXPECT_EQ(d["timestamp"].GetStringLength(), 25u);
  const rapidjson::Value& entries = d["messageArray"];
  ASSERT_EQ(entries.Size(), 2u) << r.body;  // one per message of the array
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    const rapidjson::Value& e = entries[i];
    EXPECT_EQ(e.MemberCount(), 10u);
    EXPECT_STREQ(e["message"].GetString(), "RCP9999 - Message Signature Invalid");
    EXPECT_EQ(std::string(e["transactionID"].GetString()),
              "T-IF-033-8795183096-REGS-20261201-00000000000000" + std::to_string(10 + i));
    EXPECT_STREQ(e["senderID"].GetString(), "0140321855");
    EXPECT_STREQ(e["recipientID"].GetString(), "8795183096");
    EXPECT_NE(std::string(e["help"].GetString()).find("dipgate: content_hash_mismatch"),
              std::string::npos);
  }
  EXPECT_NE(hook.nginx().ErrorLog().find("dip_verify: rejected: content_hash_mismatch"),
            std::string::npos);

  // Not a message array at all: still a StandardResponse, one entry.
  hook.Sign("{}");
  HttpResult forged = hook.Post("{}", "-H 'X-DIP-Signature: AAAA'");
  EXPECT_EQ(forged.status, 401) << forged.raw;
  d = Parse(forged.body);
  ASSERT_TRUE(d.IsObject() && d["messageArray"].IsArray()) << forged.body;
  EXPECT_EQ(d["messageArray"].Size(), 1u);
}

TEST(NginxWebhook, OurOwnFaultIs503WithRetryAfterSoTheDipRetries) {
  // Point the location at the expired CRL: every webhook meets our stale copy.
  std::string stale = "      dip_verify on;\n"
                      "      dip_verify_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
                      "      dip_verify_crl " + PkiFile("issuing-ca-expired.crl") + ";\n"
                      "      dip_verify_crl " + PkiFile("root-ca.crl") + ";\n";
  Ingress echo(false, false, true);
  int port = testing::FreePort();
  testing::Nginx nginx("  server {\n    listen 127.0.0.1:" + std::to_string(port) + ";\n"
                       "    location / {\n" + stale + "      dip_verify_retry_after 30;\n"
                       "      proxy_pass http://127.0.0.1:" + std::to_string(echo.port()) +
                       "/app;\n    }\n  }\n");
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string dir = testing::NewTempDir("stale");
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  std::string body = EgressArray(1);
  WriteFile(dir + "/body", body);
  auto s = RunCommand(Runfile("cli/dipctl") + " sign --cert " + PkiFile("signer-rsa.pem") +
                      " --key " + PkiFile("signer-rsa.key") + " --url " + url + " --body " + dir +
                      "/body");
  WriteFile(dir + "/h", s.output);
  auto r = RunCommand("curl -s -D - -X POST -H @" + dir + "/h --data-binary @" + dir + "/body " + url);
  EXPECT_NE(r.output.find("HTTP/1.1 503"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Retry-After: 30"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("X-Dipgate-Reason: crl_expired"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("RCP1000 - Message Processing Failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the receiver's own fault, retry later"), std::string::npos);
}

TEST(NginxWebhook, SchemaValidationRefusesTheArrayWholeWithThePointer) {
  Receiver hook("      dip_verify_schemas " + Runfile("third_party/dip_api/schemas") + ";\n"
                "      dip_verify_channel IF-033;\n"
                "      dip_verify_environment nonprod;\n");
  ASSERT_TRUE(hook.nginx().started()) << hook.nginx().start_output();
  std::string good = EgressArray(3);
  hook.Sign(good);
  EXPECT_EQ(hook.Post(good).status, 200);

  std::string bad = EgressArray(3, 1);
  hook.Sign(bad);
  HttpResult r = hook.Post(bad);
  EXPECT_EQ(r.status, 400) << r.raw;  // no retry: the message is wrong
  rapidjson::Document d = Parse(r.body);
  ASSERT_TRUE(d.IsObject()) << r.body;
  EXPECT_STREQ(d["reason"].GetString(), "schema_invalid");
  EXPECT_STREQ(d["pointer"].GetString(), "/1/payload/CommonBlock/M0/MPANCore");
  const rapidjson::Value& e = d["messageArray"];
  ASSERT_EQ(e.Size(), 3u);
  EXPECT_STREQ(e[1]["message"].GetString(), "RCP1001 - Schema Failure");
  EXPECT_NE(std::string(e[1]["help"].GetString()).find("/1/payload/CommonBlock/M0/MPANCore"),
            std::string::npos) << e[1]["help"].GetString();
  EXPECT_STREQ(e[0]["message"].GetString(), "RCP1000 - Message Processing Failed");
  EXPECT_NE(std::string(e[0]["help"].GetString()).find("refused whole"), std::string::npos);

  // Another interface on this channel's URL.
  std::string other = EgressArray(1, 0, "\"1234567890123\"");
  other.replace(other.find("\"IF-033\""), 8, "\"IF-041\"");
  hook.Sign(other);
  HttpResult wrong = hook.Post(other);
  EXPECT_EQ(wrong.status, 400) << wrong.raw;
  EXPECT_NE(wrong.body.find("RCP1002 - Interface ID Invalid"), std::string::npos) << wrong.body;
}

TEST(NginxWebhook, ConfigurationMistakesFailNginxT) {
  auto undeclared = testing::Nginx::Test(
      "server { listen 127.0.0.1:1; location / {\n" + testing::DipVerifyTrust() +
      "  dip_verify_replay nosuchzone; } }");
  EXPECT_NE(undeclared.exit_code, 0);
  EXPECT_NE(undeclared.output.find("no \"dip_verify_replay_zone nosuchzone:SIZE\""),
            std::string::npos) << undeclared.output;
  auto schemas = testing::Nginx::Test(
      "server { listen 127.0.0.1:1; location / {\n" + testing::DipVerifyTrust() +
      "  dip_verify_schemas /nonexistent; } }");
  EXPECT_NE(schemas.exit_code, 0);
  EXPECT_NE(schemas.output.find("/nonexistent/index.json"), std::string::npos) << schemas.output;
  auto status = testing::Nginx::Test(
      "server { listen 127.0.0.1:1; location / { dip_verify_unavailable_status 200; } }");
  EXPECT_NE(status.exit_code, 0);
  EXPECT_NE(status.output.find("\"dip_verify_unavailable_status\" must be between 400 and 599"),
            std::string::npos) << status.output;
  auto zone = testing::Nginx::Test("dip_verify_replay_zone z;");
  EXPECT_NE(zone.exit_code, 0);
  EXPECT_NE(zone.output.find("takes NAME:SIZE"), std::string::npos) << zone.output;
}

TEST(NginxWebhook, AReplayIsCaughtWhicheverWorkerItReaches) {
  testing::NginxOptions two;
  two.workers = 2;
  Receiver hook("      dip_verify_replay dipreplay;\n", two,
                "  dip_verify_replay_zone dipreplay:1m;\n");
  ASSERT_TRUE(hook.nginx().started()) << hook.nginx().start_output();
  std::string body = EgressArray(1);
  hook.Sign(body);
  ASSERT_EQ(hook.Post(body).status, 200);
  // The same signed request again on new connections until two different
  // workers have refused it (reuseport spreads connections over them).
  std::string log = hook.nginx().prefix() + "/logs/pids.log";
  std::set<std::string> refusing;
  for (int i = 0; i < 60 && refusing.size() < 2; ++i) {
    HttpResult r = hook.Post(body);
    ASSERT_EQ(r.status, 401) << "attempt " << i << ": " << r.raw;
    EXPECT_NE(r.body.find("\"reason\":\"replayed\""), std::string::npos) << r.body;
    std::string lines = ReadFile(log);
    std::istringstream in(lines);
    for (std::string line; std::getline(in, line);) {
      if (line.size() > 4 && line.substr(line.size() - 4) == " 401") {
        refusing.insert(line.substr(0, line.find(' ')));
      }
    }
  }
  EXPECT_EQ(refusing.size(), 2u) << "every repeat reached the same worker: " << ReadFile(log);
  // A fresh signature of the same body is not a replay.
  hook.Sign(body);
  EXPECT_EQ(hook.Post(body).status, 200);
}

// A signature counts as seen only once its request got a 2xx: the DIP's
// retry of a webhook the application answered 503 is verified again (not
// refused as replayed, which the DIP would never retry: a lost message);
// an identical request while the first is still upstream is our own fault
// (503 + Retry-After); after a 2xx, a replay is refused as before. With the
// shared zone over 2 workers, and per worker (on).
void RetriedWebhookIsNotAReplay(const std::string& replay_lines, int workers,
                                const std::string& http_lines) {
  std::string behaviour = testing::NewTempDir("behaviour") + "/steps";
  WriteFile(behaviour, "503 1\n");
  testing::NginxOptions options;
  options.workers = workers;
  Receiver hook(replay_lines + "      dip_verify_retry_after 2;\n", options, http_lines,
                testing::DipVerifyTrust(), {"--behaviour-file", behaviour});
  ASSERT_TRUE(hook.nginx().started()) << hook.nginx().start_output();
  std::string body = EgressArray(1);
  hook.Sign(body);
  HttpResult down = hook.Post(body);
  EXPECT_EQ(down.status, 503) << down.raw;  // the application's own answer
  HttpResult retry = hook.Post(body);
  EXPECT_EQ(retry.status, 200) << "the retry of a 503 was refused: " << retry.raw;
  HttpResult replay = hook.Post(body);
  EXPECT_EQ(replay.status, 401) << replay.raw;
  EXPECT_NE(replay.body.find("\"reason\":\"replayed\""), std::string::npos) << replay.body;

  // Held upstream: the identical request meanwhile is answered 503 +
  // Retry-After (our fault: the DIP retries), then the first one's 200
  // makes it a replay.
  hook.Sign(body);
  WriteFile(behaviour, "slow 3000 1\n");
  HttpResult first;
  std::thread slow([&] { first = hook.Post(body); });
  bool held = false;
  HttpResult during;
  std::string headers = testing::NewTempDir("held") + "/headers";
  for (int i = 0; i < 40 && !held; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    during = hook.Post(body, "-D " + headers);
    held = during.status == 503;
    if (!held) {
      ASSERT_EQ(during.status, 200) << during.raw;  // reached the echo first: not held yet
      break;
    }
  }
  slow.join();
  ASSERT_TRUE(held) << during.raw;
  EXPECT_NE(ReadFile(headers).find("Retry-After: 2"), std::string::npos) << ReadFile(headers);
  EXPECT_NE(during.body.find("\"reason\":\"replay_in_progress\""), std::string::npos)
      << during.body;
  EXPECT_NE(during.body.find("RCP1000"), std::string::npos) << during.body;
  EXPECT_EQ(first.status, 200) << first.raw;
  HttpResult after = hook.Post(body);
  EXPECT_EQ(after.status, 401) << after.raw;
  EXPECT_NE(hook.nginx().ErrorLog().find("rejected: replay_in_progress"), std::string::npos)
      << hook.nginx().ErrorLog();
}

TEST(NginxWebhook, ARetriedWebhookIsNotAReplayWithASharedZone) {
  RetriedWebhookIsNotAReplay("      dip_verify_replay dipreplay;\n", 2,
                             "  dip_verify_replay_zone dipreplay:1m;\n");
}

TEST(NginxWebhook, ARetriedWebhookIsNotAReplayPerWorker) {
  RetriedWebhookIsNotAReplay("      dip_verify_replay on;\n", 1, "");
}

TEST(NginxWebhook, NoExceptionCrossesIntoNginx) {
  testing::NginxOptions faults;
  faults.module = "nginx_module/ngx_http_dip_module_faults.so";
  Receiver hook("      proxy_set_header X-Signer $dip_signer_subject;\n", faults);
  ASSERT_TRUE(hook.nginx().started()) << hook.nginx().start_output();
  std::string body = EgressArray(1);
  hook.Sign(body);
  // A handler that throws answers 500; a variable that throws is empty (what
  // nginx makes of a variable error) and the request goes on.
  for (const char* point : {"verify", "body", "variable"}) {
    HttpResult r = hook.Post(body, std::string("-H 'X-Dipgate-Fault: ") + point + "'");
    EXPECT_EQ(r.status, std::string(point) == "variable" ? 200 : 500) << point << ": " << r.raw;
    EXPECT_NE(hook.nginx().ErrorLog().find(std::string("exception: injected fault at ") + point),
              std::string::npos) << hook.nginx().ErrorLog();
    // The worker lives on and serves the next request.
    hook.Sign(body);
    EXPECT_EQ(hook.Post(body).status, 200) << "after " << point;
    hook.Sign(body);
  }
  EXPECT_EQ(hook.nginx().ErrorLog().find("exited on signal"), std::string::npos);
}

TEST(NginxWebhook, TheSandboxRetriesThroughAnExpiredCrlUntilItIsRefreshed) {
  std::string crl_dir = testing::NewTempDir("crl");
  WriteFile(crl_dir + "/issuing.crl", ReadFile(PkiFile("issuing-ca-expired.crl")));
  Receiver hook("      dip_verify_schemas " + Runfile("third_party/dip_api/schemas") + ";\n"
                "      dip_verify_retry_after 1;\n", {},
                "",
                "      dip_verify on;\n"
                "      dip_verify_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
                "      dip_verify_crl " + crl_dir + "/issuing.crl;\n"
                "      dip_verify_crl " + PkiFile("root-ca.crl") + ";\n");
  ASSERT_TRUE(hook.nginx().started()) << hook.nginx().start_output();
  std::string outcomes = testing::NewTempDir("sandbox") + "/outcomes.jsonl";
  Ingress sandbox(true, true, false,
                  {"--ca", PkiFile("ca-bundle.pem"), "--crl", PkiFile("crls.pem"), "--api-key",
                   "k", "--outcomes", outcomes, "--dip-cert", PkiFile("signer-ec.pem"),
                   "--dip-key", PkiFile("signer-ec.key"), "--batch-linger", "50",
                   "--retry-schedule", "0.5,0.5,1,1,2,2,4,4,8"});
  std::string call = " --url https://127.0.0.1:" + std::to_string(sandbox.port()) + " --cert " +
                     PkiFile("signer-rsa.pem") + " --key " + PkiFile("signer-rsa.key") +
                     " --api-key k --server-ca " + PkiFile("ca-bundle.pem") + " --client-cert " +
                     PkiFile("tls-client.pem") + " --client-key " + PkiFile("tls-client.key") +
                     " --schemas " + Runfile("third_party/dip_api/schemas");
  auto reg = RunCommand(Runfile("cli/dipctl") + " pubconfig --channel IF-033 --recipient 0140321855"
                        " --callback-url " + hook.Url() + call);
  ASSERT_EQ(reg.exit_code, 0) << reg.output;
  std::string dir = testing::NewTempDir("send");
  WriteFile(dir + "/m.json", ReadFile(Runfile("tests/data/if-033-appointment-request.json")));
  auto sent = RunCommand(Runfile("cli/dipctl") + " send --body " + dir + "/m.json" + call);
  ASSERT_EQ(sent.exit_code, 0) << sent.output;

  auto attempts = [&](const std::string& status) {
    std::istringstream in(ReadFile(outcomes));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"callback_attempt\"") != std::string::npos &&
          line.find("\"status\": " + status) != std::string::npos) {
        ++n;
      }
    }
    return n;
  };
  // Refused as our fault (503): the sandbox retries rather than dropping it.
  ASSERT_TRUE(WaitFor([&] { return attempts("503") >= 2; }, 15000)) << ReadFile(outcomes);
  EXPECT_NE(hook.nginx().ErrorLog().find("rejected: crl_expired"), std::string::npos);
  // The refresh job writes a current CRL; the next retry is accepted.
  WriteFile(crl_dir + "/issuing.crl", ReadFile(PkiFile("issuing-ca.crl")));
  ASSERT_TRUE(WaitFor([&] { return ReadFile(outcomes).find("\"delivered\"") != std::string::npos; },
                      30000)) << ReadFile(outcomes);
  EXPECT_EQ(ReadFile(outcomes).find("\"gave_up\""), std::string::npos) << ReadFile(outcomes);
}

}  // namespace
}  // namespace dipgate
