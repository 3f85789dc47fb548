// DIP webhooks into Kafka, with nothing lost: the DIP sandbox sends signed
// egress arrays, stock nginx verifies them (mutual TLS aside, dip_verify),
// dipgate-bridge's inbound listener splits them into one Kafka record per
// message on a real broker, and answers 201 only after Kafka acknowledged
// every record; 503 (the sandbox retries) when Kafka cannot take them.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <map>
#include <set>
#include <sstream>

#include "common/dip/message.h"
#include "tests/kafka_fixture.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::BridgeProcess;
using testing::Broker;
using testing::Curl;
using testing::HttpResult;
using testing::Ingress;
using testing::KafkaRecord;
using testing::PkiFile;
using testing::ReadFile;
using testing::ReadTopic;
using testing::RunCommand;
using testing::Runfile;
using testing::Tail;
using testing::WaitFor;
using testing::WriteFile;

const char kRecipient[] = "0140321855";

// The IF-033 sample as message `i`: its own senderUniqueReference and
// MPANCore; with `d0`, the D0 block the DIP adds (transactionID `txid`).
std::string Message(int i, bool d0 = false, const std::string& txid = "", bool replay = false) {
  return testing::SampleEgress("inb", i, 1000000, d0, txid, replay);
}

// Signs `body` for `url` as the DIP does (dipctl, the EC signing
// certificate): `dir`/signed.json holds the body, `dir`/headers the headers.
void SignAsTheDip(const std::string& dir, const std::string& url, const std::string& body) {
  WriteFile(dir + "/signed.json", body);
  auto s = RunCommand(Runfile("cli/dipctl") + " sign --cert " + PkiFile("signer-ec.pem") +
                      " --key " + PkiFile("signer-ec.key") + " --url " + url + " --body " + dir +
                      "/signed.json");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  WriteFile(dir + "/headers", s.output);
}

std::string Array(const std::vector<std::string>& messages) {
  std::string out = "[";
  for (size_t i = 0; i < messages.size(); ++i) out += (i ? "," : "") + messages[i];
  return out + "]";
}

class BridgeInboundTest : public testing::KafkaTest {
 protected:
  // Whether the bridge checks inbound messages against the DIP's schemas.
  virtual bool Schemas() const { return true; }

  void SetUp() override {
    dir_ = testing::NewTempDir("inbound");
    topic_prefix_ = "dip-in-" + std::to_string(++counter_) + "-";
    listen_port_ = testing::FreePort();
    WriteFile(dir_ + "/bridge.json", R"({
  "kafka": {"bootstrap.servers": ")" + broker_->bootstrap() + R"(",
            "topic.metadata.refresh.interval.ms": 1000},
  "inbound": {"listen": "127.0.0.1:)" + std::to_string(listen_port_) + R"(",
              "topic": ")" + topic_prefix_ + R"({interfaceID}",
              "participant_id": "0140321855",)" +
                                          (Schemas() ? R"("schemas": ")" +
                                                           Runfile("third_party/dip_api/schemas") +
                                                           "\","
                                                     : "") +
                                          R"(
              "produce_timeout_ms": 3000, "retry_after_s": 1},
  "metrics_listen": "127.0.0.1:)" + std::to_string(metrics_port_ = testing::FreePort()) + R"("
})");
    bridge_ = std::make_unique<BridgeProcess>(dir_ + "/bridge.json", dir_ + "/bridge.log");
    ASSERT_TRUE(WaitFor([&] { return ReadFile(dir_ + "/bridge.log").find("inbound_listening") !=
                                      std::string::npos; },
                        15000))
        << Tail(dir_ + "/bridge.log");
    nginx_port_ = testing::FreePort();
    nginx_ = std::make_unique<testing::Nginx>(
        "  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port_) + ";\n"
        "    location /dip/webhook/ {\n" + testing::DipVerifyTrust() +
        "      dip_verify_environment nonprod;\n"
        "      proxy_set_header X-DIP-Verified $dip_verify_status;\n"
        "      proxy_set_header X-DIP-Signer $dip_signer_subject;\n"
        "      proxy_pass http://127.0.0.1:" + std::to_string(listen_port_) + ";\n"
        "    }\n  }\n");
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
  }

  void TearDown() override {
    if (bridge_) EXPECT_EQ(bridge_->Stop(), 0) << Tail(dir_ + "/bridge.log");
  }

  // The DIP sandbox, delivering IF-033 webhooks to nginx in batches of 5.
  void StartSandbox(const std::string& retry_schedule = "0.2,0.5,1") {
    outcomes_ = dir_ + "/outcomes.jsonl";
    sandbox_ = std::make_unique<Ingress>(
        true, true, false,
        std::vector<std::string>{"--ca", PkiFile("ca-bundle.pem"), "--crl", PkiFile("crls.pem"),
                                 "--api-key", "k", "--outcomes", outcomes_, "--dip-cert",
                                 PkiFile("signer-ec.pem"), "--dip-key", PkiFile("signer-ec.key"),
                                 "--batch-linger", "300", "--retry-schedule", retry_schedule});
    auto reg = Dipctl("pubconfig --channel IF-033 --recipient " + std::string(kRecipient) +
                      " --max-message-count 5 --callback-url http://127.0.0.1:" +
                      std::to_string(nginx_port_) + "/dip/webhook/if-033");
    ASSERT_EQ(reg.exit_code, 0) << reg.output;
  }

  testing::CommandResult Dipctl(const std::string& args) {
    return RunCommand(Runfile("cli/dipctl") + " " + args + " --url https://127.0.0.1:" +
                      std::to_string(sandbox_->port()) + " --cert " + PkiFile("signer-rsa.pem") +
                      " --key " + PkiFile("signer-rsa.key") + " --api-key k --server-ca " +
                      PkiFile("ca-bundle.pem") + " --client-cert " + PkiFile("tls-client.pem") +
                      " --client-key " + PkiFile("tls-client.key") + " --schemas " +
                      Runfile("third_party/dip_api/schemas"));
  }

  // Sends messages first..first+n-1 through the sandbox, 4 per POST.
  void SendThroughTheDip(int first, int n) {
    for (int i = first; i < first + n; i += 4) {
      std::vector<std::string> batch;
      for (int j = i; j < std::min(i + 4, first + n); ++j) batch.push_back(Message(j));
      WriteFile(dir_ + "/send.json", Array(batch));
      auto r = Dipctl("send --body " + dir_ + "/send.json");
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }
  }

  int CountOutcomes(const std::string& event) {
    std::istringstream in(ReadFile(outcomes_));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"event\": \"" + event + "\"") != std::string::npos) ++n;
    }
    return n;
  }

  // A POST straight to the bridge's listener, as nginx would pass it on.
  HttpResult PostToBridge(const std::string& body, const std::string& headers) {
    WriteFile(dir_ + "/direct.json", body);
    return Curl("-X POST " + headers + " -H 'Content-Type: application/json' --data-binary @" +
                dir_ + "/direct.json http://127.0.0.1:" + std::to_string(listen_port_) + "/");
  }

  std::vector<KafkaRecord> Topic(size_t want, int timeout_ms = 20000) {
    return ReadTopic(broker_->bootstrap(), topic_prefix_ + "IF-033", want, timeout_ms);
  }

  static int counter_;
  std::string dir_, topic_prefix_, outcomes_;
  int listen_port_ = 0, nginx_port_ = 0, metrics_port_ = 0;
  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<testing::Nginx> nginx_;
  std::unique_ptr<Ingress> sandbox_;
};

int BridgeInboundTest::counter_ = 0;

TEST_F(BridgeInboundTest, EveryWebhookMessageLandsOnceWithTopicKeyAndHeaders) {
  StartSandbox();
  const int n = 12;
  SendThroughTheDip(0, n);
  ASSERT_TRUE(WaitFor([&] { return CountOutcomes("delivered") >= 3; }, 30000))
      << ReadFile(outcomes_) << Tail(dir_ + "/bridge.log");
  auto records = Topic(n + 1, 8000);  // one more than sent: none may be extra
  ASSERT_EQ(records.size(), static_cast<size_t>(n)) << Tail(dir_ + "/bridge.log");
  std::set<std::string> keys, txids;
  for (const KafkaRecord& r : records) {
    keys.insert(r.key);
    txids.insert(r.headers.at("dip.transactionID"));
    EXPECT_EQ(r.headers.at("dip.replayIndicator"), "false");
    EXPECT_EQ(r.headers.at("dip.interfaceID"), "IF-033");
    EXPECT_EQ(r.headers.at("dip.eventCode"), "[MSAppSPRequest]");
    EXPECT_EQ(r.headers.at("dip.publicationID").substr(0, 3), "PUB");
    EXPECT_NE(r.headers.at("dip.signer").find("CN=energydip-nonprod."), std::string::npos);
    EXPECT_EQ(r.headers.at("dip.mpo"), kRecipient);
    // The value is the message's payload, D0 and all.
    auto payload = dip::MessageArray::Parse("[{\"payload\":" + r.value + "}]");
    ASSERT_TRUE(payload.ok()) << r.value;
    EXPECT_EQ(payload->messages()[0].envelope.mpan_core, r.key);
    EXPECT_EQ(payload->messages()[0].envelope.transaction_id, r.headers.at("dip.transactionID"));
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(n));
  EXPECT_EQ(txids.size(), static_cast<size_t>(n));
  EXPECT_EQ(CountOutcomes("gave_up"), 0) << ReadFile(outcomes_);
  EXPECT_GE(CountOutcomes("delivered"), 3);  // batches of up to 5: several messages per POST
  auto metrics = Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  EXPECT_NE(metrics.body.find("dipgate_bridge_inbound_produced_total 12"), std::string::npos)
      << metrics.body;
}

TEST_F(BridgeInboundTest, ARetriedWebhookIsNotProducedTwiceAndAReplayIsFlagged) {
  std::string first = Array({Message(100, true, "T-IF-033-0140321855-SDS-20261201-A1"),
                             Message(101, true, "T-IF-033-0140321855-SDS-20261201-A2")});
  HttpResult r = PostToBridge(first, "-H 'X-DIP-Verified: ok'");
  ASSERT_EQ(r.status, 201) << r.raw;
  rapidjson::Document answer;
  answer.Parse(r.body.c_str());
  ASSERT_TRUE(answer.IsObject()) << r.body;
  ASSERT_EQ(answer["messageArray"].Size(), 2u);
  EXPECT_STREQ(answer["messageArray"][0]["message"].GetString(), "RCP0000 - Message Success");
  EXPECT_STREQ(answer["messageArray"][1]["transactionID"].GetString(),
               "T-IF-033-0140321855-SDS-20261201-A2");
  // The DIP sends it again (its 201 was lost): answered 201, not produced.
  HttpResult again = PostToBridge(first, "-H 'X-DIP-Verified: ok'");
  EXPECT_EQ(again.status, 201) << again.raw;
  EXPECT_NE(again.body.find("already received"), std::string::npos) << again.body;
  // A replay of one of them is produced again, flagged.
  HttpResult replay = PostToBridge(
      Array({Message(100, true, "T-IF-033-0140321855-SDS-20261201-A1", true)}),
      "-H 'X-DIP-Verified: ok'");
  EXPECT_EQ(replay.status, 201) << replay.raw;
  auto records = Topic(4, 8000);
  ASSERT_EQ(records.size(), 3u) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(records[2].headers.at("dip.replayIndicator"), "true");
  EXPECT_EQ(records[2].headers.at("dip.transactionID"), "T-IF-033-0140321855-SDS-20261201-A1");
}

TEST_F(BridgeInboundTest, TheSendersFaultsAreRefusedAndNothingIsProduced) {
  // Not verified by nginx.
  HttpResult unverified = PostToBridge(Array({Message(200, true, "T-1")}), "");
  EXPECT_EQ(unverified.status, 403) << unverified.raw;
  EXPECT_NE(unverified.body.find("not verified by nginx"), std::string::npos);
  HttpResult refused = PostToBridge(Array({Message(201, true, "T-2")}),
                                    "-H 'X-DIP-Verified: signature_mismatch'");
  EXPECT_EQ(refused.status, 403) << refused.raw;
  // Not a message array; a schema failure with its pointer.
  HttpResult junk = PostToBridge("{\"not\":\"an array\"}", "-H 'X-DIP-Verified: ok'");
  EXPECT_EQ(junk.status, 400) << junk.raw;
  EXPECT_NE(junk.body.find("RCP1001 - Schema Failure"), std::string::npos) << junk.body;
  std::string bad = Message(202, true, "T-3");
  bad.replace(bad.find("\"MPANCore\":\"") + 12, 1, "x");
  HttpResult invalid = PostToBridge(Array({bad}), "-H 'X-DIP-Verified: ok'");
  EXPECT_EQ(invalid.status, 400) << invalid.raw;
  EXPECT_NE(invalid.body.find("/0/payload/CommonBlock/M0/MPANCore"), std::string::npos)
      << invalid.body;
  EXPECT_TRUE(Topic(1, 3000).empty());
  auto metrics = Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  EXPECT_NE(metrics.body.find("dipgate_bridge_webhooks_refused_total 4"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("dipgate_bridge_webhooks_not_accepted_total{reason=\"schema_invalid\"} 1"),
            std::string::npos) << metrics.body;
}

// A webhook whose signature fails never reaches the bridge: nginx answers
// 401 (the DIP does not retry it) and nothing is in Kafka.
TEST_F(BridgeInboundTest, ABadSignatureStopsAtNginxAndNothingIsProduced) {
  std::string body = Array({Message(500, true, "T-IF-033-0140321855-SDS-20261201-C1")});
  std::string url = "http://127.0.0.1:" + std::to_string(nginx_port_) + "/dip/webhook/if-033";
  SignAsTheDip(dir_, url, body);
  std::string tampered = body;
  tampered[tampered.find("SW1A")] = 'X';
  WriteFile(dir_ + "/tampered.json", tampered);
  HttpResult r = Curl("-X POST -H @" + dir_ + "/headers --data-binary @" + dir_ +
                      "/tampered.json " + url);
  EXPECT_EQ(r.status, 401) << r.raw;
  EXPECT_NE(r.body.find("RCP9999 - Message Signature Invalid"), std::string::npos) << r.body;
  HttpResult ok = Curl("-X POST -H @" + dir_ + "/headers --data-binary @" + dir_ +
                       "/signed.json " + url);
  EXPECT_EQ(ok.status, 201) << ok.raw;  // the bridge's answer, through nginx
  auto records = Topic(2, 8000);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].headers.at("dip.transactionID"), "T-IF-033-0140321855-SDS-20261201-C1");
}

TEST_F(BridgeInboundTest, KafkaDownIs503AndTheDipsRetriesLandEveryMessage) {
  StartSandbox("1,1,2,2,3,3,5,5,8,8,13");
  SendThroughTheDip(300, 3);
  ASSERT_TRUE(WaitFor([&] { return CountOutcomes("delivered") >= 1; }, 30000))
      << ReadFile(outcomes_);
  broker_->Stop();
  SendThroughTheDip(310, 6);
  // Kafka cannot acknowledge: 503, and the sandbox retries (it would drop a 4xx).
  ASSERT_TRUE(WaitFor([&] { return ReadFile(outcomes_).find("\"status\": 503") != std::string::npos; },
                      30000))
      << ReadFile(outcomes_) << Tail(dir_ + "/bridge.log");
  ASSERT_TRUE(broker_->Restart());
  ASSERT_TRUE(WaitFor([&] { return CountOutcomes("delivered") >= 3; }, 90000))
      << ReadFile(outcomes_) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(CountOutcomes("gave_up"), 0) << ReadFile(outcomes_);
  auto records = Topic(20, 15000);
  std::map<std::string, int> seen;
  for (const KafkaRecord& r : records) seen[r.headers.at("dip.transactionID")] += 1;
  EXPECT_EQ(seen.size(), 9u) << "every message in Kafka";
  int duplicates = static_cast<int>(records.size()) - static_cast<int>(seen.size());
  std::cout << "Kafka down then back: " << records.size() << " records for 9 messages ("
            << duplicates << " duplicates the window could not catch)\n";
  EXPECT_LE(duplicates, 6);
}

TEST_F(BridgeInboundTest, ABridgeKilledMidWebhookAnswersNothingAndTheRetryLands) {
  StartSandbox("1,1,2,2,3,3,5,5,8");
  broker_->Stop();  // Kafka slow to acknowledge: the webhook is in progress
  SendThroughTheDip(400, 4);
  std::string metrics = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
  ASSERT_TRUE(WaitFor([&] {
    return Curl(metrics).body.find("dipgate_bridge_webhooks_received_total 0") == std::string::npos;
  }, 20000)) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(bridge_->Stop(SIGKILL), -SIGKILL);  // mid-webhook
  bridge_.reset();
  EXPECT_EQ(CountOutcomes("delivered"), 0) << "a 201 for messages not in Kafka";
  ASSERT_TRUE(broker_->Restart());
  bridge_ = std::make_unique<BridgeProcess>(dir_ + "/bridge.json", dir_ + "/bridge2.log");
  ASSERT_TRUE(WaitFor([&] { return CountOutcomes("delivered") >= 1; }, 90000))
      << ReadFile(outcomes_) << Tail(dir_ + "/bridge2.log");
  EXPECT_EQ(CountOutcomes("gave_up"), 0) << ReadFile(outcomes_);
  auto records = Topic(10, 15000);
  std::set<std::string> seen;
  for (const KafkaRecord& r : records) seen.insert(r.headers.at("dip.transactionID"));
  EXPECT_EQ(seen.size(), 4u) << "every message of the killed webhook in Kafka";
  std::cout << "bridge killed mid-webhook: " << records.size() << " records for 4 messages\n";
}

// Without schemas, so a payload may hold any JSON: what reaches Kafka is
// the bytes the DIP signed, whatever they spell.
class BridgeInboundBytesTest : public BridgeInboundTest {
 protected:
  bool Schemas() const override { return false; }

  // Signs `body` for nginx's webhook location with the DIP's EC key and
  // POSTs it there.
  HttpResult SignAndPost(const std::string& body) {
    std::string url = "http://127.0.0.1:" + std::to_string(nginx_port_) + "/dip/webhook/if-033";
    SignAsTheDip(dir_, url, body);
    return Curl("-X POST -H @" + dir_ + "/headers -H 'Content-Type: application/json' "
                "--data-binary @" + dir_ + "/signed.json " + url);
  }
};

TEST_F(BridgeInboundBytesTest, PayloadsReachKafkaByteForByteAndAnUnreadableNumberIsRefused) {
  // Values a JSON writer would respell or change: integers beyond 2^64,
  // trailing zeros, exponents, negative zero, escapes (\u, \/, a surrogate
  // pair), UTF-8 text, spacing and newlines inside the payload.
  auto odd = [](int i, const std::string& extra) {
    std::string m = Message(i, true, "T-IF-033-0140321855-SDS-20261201-B" + std::to_string(i));
    size_t at = m.rfind("}}");  // the payload's end
    return m.substr(0, at) + extra + m.substr(at);
  };
  std::vector<std::string> messages = {
      odd(600, ",\"big\": 123456789012345678901234567890, \"price\": 1.10, \"e\": 1e2,"
               " \"E\":1E+2, \"z\": -0.0, \"tiny\": 5e-324"),
      odd(601, R"(,"text": "caf\u00e9 café \"q\" \/ \ud83d\ude00 €")"),
      odd(602, " ,\n  \"nested\" : { \"a\" : [ 1 , 2.50 , { } ] }\r\n  "),
  };
  std::string body = "[\n  " + messages[0] + ",\n  " + messages[1] + " ,\t" + messages[2] + "\n]";
  auto parsed = dip::MessageArray::Parse(body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  HttpResult r = SignAndPost(body);
  ASSERT_EQ(r.status, 201) << r.raw << Tail(dir_ + "/bridge.log");
  auto records = Topic(4, 8000);
  ASSERT_EQ(records.size(), 3u) << Tail(dir_ + "/bridge.log");
  std::map<std::string, std::string> values;  // by transactionID: keys spread over partitions
  for (const KafkaRecord& record : records) values[record.headers.at("dip.transactionID")] = record.value;
  for (size_t i = 0; i < 3; ++i) {
    // The exact payload slice of what was signed, not a re-serialisation.
    const std::string& value = values[parsed->messages()[i].envelope.transaction_id];
    EXPECT_EQ(value, std::string(parsed->PayloadText(i))) << "message " << i;
    EXPECT_EQ("{\"payload\":" + value + "}", messages[i]) << "message " << i;
  }
  EXPECT_NE(values["T-IF-033-0140321855-SDS-20261201-B600"].find(
                "123456789012345678901234567890, \"price\": 1.10, \"e\": 1e2"),
            std::string::npos);

  // A number beyond a double's range: refused before any 201, with the
  // reason and where it is; nothing produced.
  std::string huge = odd(603, ",\"reading\":7600002E302");
  HttpResult refused = SignAndPost("[" + huge + "]");
  EXPECT_EQ(refused.status, 400) << refused.raw;
  EXPECT_NE(refused.body.find("beyond the range of a double at /0/payload/reading"),
            std::string::npos)
      << refused.body;
  auto metrics = Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  EXPECT_NE(metrics.body.find("dipgate_bridge_inbound_produced_total 3\n"), std::string::npos)
      << metrics.body;
}

// An IPv4 address of this host that is not loopback: requests sent to it
// come from it, as from another host on the network.
std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string out;
  for (ifaddrs* i = list; i != nullptr && out.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    in_addr a = reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr;
    if ((ntohl(a.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &a, text, sizeof(text)) != nullptr) out = text;
  }
  freeifaddrs(list);
  return out;
}

// The listener's trust boundary: a header is not proof of who sent it.
// Each test starts its own bridge with the inbound block it needs.
class BridgeInboundBoundaryTest : public testing::KafkaTest {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("boundary");
    topic_prefix_ = "dip-edge-" + std::to_string(++counter_) + "-";
    port_ = testing::FreePort();
    metrics_port_ = testing::FreePort();
    host_ = NonLoopbackAddress();
    ASSERT_FALSE(host_.empty()) << "this test needs an IPv4 address other than loopback";
  }
  void TearDown() override {
    if (bridge_) EXPECT_EQ(bridge_->Stop(), 0) << Tail(dir_ + "/bridge.log");
  }

  std::string WriteConfig(const std::string& inbound_extra) {
    std::string path = dir_ + "/bridge.json";
    WriteFile(path, R"({
  "kafka": {"bootstrap.servers": ")" + broker_->bootstrap() + R"("},
  "inbound": {"listen": "0.0.0.0:)" + std::to_string(port_) + R"(",
              "topic": ")" + topic_prefix_ + R"({interfaceID}",
              "participant_id": "0140321855", "retry_after_s": 1)" + inbound_extra + R"(},
  "metrics_listen": "127.0.0.1:)" + std::to_string(metrics_port_) + R"("
})");
    return path;
  }

  void Start(const std::string& inbound_extra) {
    bridge_ = std::make_unique<BridgeProcess>(WriteConfig(inbound_extra), dir_ + "/bridge.log");
    ASSERT_TRUE(WaitFor([&] { return ReadFile(dir_ + "/bridge.log").find("inbound_listening") !=
                                      std::string::npos; },
                        15000))
        << Tail(dir_ + "/bridge.log");
  }

  // POSTs `body` to the bridge's listener at this host's non-loopback
  // address (so the bridge sees a peer that is not loopback).
  HttpResult PostFromTheNetwork(const std::string& scheme, const std::string& body,
                                const std::string& curl_args) {
    WriteFile(dir_ + "/body.json", body);
    return Curl("-X POST " + curl_args + " -H 'Content-Type: application/json' --data-binary @" +
                dir_ + "/body.json " + scheme + "://" + host_ + ":" + std::to_string(port_) + "/");
  }

  std::string Metrics() {
    return Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics").body;
  }

  static int counter_;
  std::string dir_, topic_prefix_, host_;
  int port_ = 0, metrics_port_ = 0;
  std::unique_ptr<BridgeProcess> bridge_;
};

int BridgeInboundBoundaryTest::counter_ = 0;

TEST_F(BridgeInboundBoundaryTest, AnUnauthenticatedListenerOthersCanReachIsRefusedAtCheckAndStart) {
  std::string config = WriteConfig("");
  auto check = RunCommand(Runfile("kafka_bridge/dipgate-bridge") + " --config " + config +
                          " --check");
  EXPECT_NE(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("inbound.listen: '0.0.0.0:" + std::to_string(port_) +
                              "' can be reached from other hosts"),
            std::string::npos)
      << check.output;
  auto start = RunCommand("timeout 20 " + Runfile("kafka_bridge/dipgate-bridge") + " --config " +
                          config);
  EXPECT_NE(start.exit_code, 0) << start.output;
  EXPECT_NE(start.exit_code, 124) << "it started: " << start.output;
  EXPECT_NE(start.output.find("can be reached from other hosts"), std::string::npos)
      << start.output;
  // Nothing listens: the forged request of the issue finds no one.
  HttpResult forged = PostFromTheNetwork("http", Array({Message(700, true, "T-F1")}),
                                         "-H 'X-DIP-Verified: ok'");
  EXPECT_EQ(forged.status, 0) << forged.raw;
}

// With inbound.verify the bridge checks the X-DIP signature itself: the
// forged header from another host is refused and nothing is produced; a
// signed webhook from the same host is taken.
TEST_F(BridgeInboundBoundaryTest, TheBridgeVerifyingSignaturesMayListenOnTheNetwork) {
  Start(R"(, "verify": {"ca": [")" + PkiFile("ca-bundle.pem") + R"("], "crl": [")" +
        PkiFile("crls.pem") + R"("], "environment": "nonprod"})");
  HttpResult forged = PostFromTheNetwork("http", Array({Message(701, true, "T-F2")}),
                                         "-H 'X-DIP-Verified: ok'");
  EXPECT_EQ(forged.status, 401) << forged.raw;
  EXPECT_NE(forged.body.find("missing_header"), std::string::npos) << forged.body;
  std::string body = Array({Message(702, true, "T-IF-033-0140321855-SDS-20261201-E1")});
  std::string url = "https://dip-webhooks.example/dip/webhook/if-033";
  SignAsTheDip(dir_, url, body);
  // A signer header from an unauthenticated peer is not taken either: the
  // record names the certificate the bridge verified.
  HttpResult signed_ok = PostFromTheNetwork(
      "http", body,
      "-H @" + dir_ + "/headers -H 'X-DIP-Verified: ok' -H 'X-DIP-Signer: CN=someone else' "
      "-H 'X-DIP-Destination: " + url + "'");
  EXPECT_EQ(signed_ok.status, 201) << signed_ok.raw;
  auto records = ReadTopic(broker_->bootstrap(), topic_prefix_ + "IF-033", 2, 8000);
  ASSERT_EQ(records.size(), 1u) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(records[0].headers.at("dip.transactionID"), "T-IF-033-0140321855-SDS-20261201-E1");
  EXPECT_NE(records[0].headers.at("dip.signer").find("CN=energydip-nonprod."), std::string::npos)
      << records[0].headers.at("dip.signer");
}

// With inbound.tls.client_ca the hop from nginx is mutual TLS: a request
// without a client certificate, or with one from another CA, is refused
// whatever its headers say; nginx with its client certificate (the
// documented proxy_ssl_* example) gets through.
TEST_F(BridgeInboundBoundaryTest, MutualTlsFromNginxIsTheAuthenticatedHop) {
  Start(R"(, "tls": {"certificate": ")" + PkiFile("tls-server.pem") + R"(", "key": ")" +
        PkiFile("tls-server.key") + R"(", "client_ca": ")" + PkiFile("ca-bundle.pem") + R"("})");
  std::string forged_body = Array({Message(703, true, "T-F3")});
  HttpResult anonymous = PostFromTheNetwork("https", forged_body,
                                            "-k -H 'X-DIP-Verified: ok'");
  EXPECT_EQ(anonymous.status, 403) << anonymous.raw;
  EXPECT_NE(anonymous.body.find("peer_not_authenticated"), std::string::npos) << anonymous.body;
  EXPECT_NE(anonymous.body.find("no client certificate"), std::string::npos) << anonymous.body;
  HttpResult stranger = PostFromTheNetwork(
      "https", forged_body,
      "-k --cert " + PkiFile("signer-untrusted.pem") + " --key " + PkiFile("signer-untrusted.key") +
          " -H 'X-DIP-Verified: ok'");
  EXPECT_EQ(stranger.status, 403) << stranger.raw;
  EXPECT_NE(stranger.body.find("does not verify against inbound.tls.client_ca"), std::string::npos)
      << stranger.body;
  EXPECT_NE(Metrics().find("dipgate_bridge_inbound_produced_total 0"), std::string::npos);

  // nginx verifies the DIP's signature and passes the webhook on over
  // mutual TLS (docs/operator-guide.md, "The bridge on another host").
  int nginx_port = testing::FreePort();
  testing::Nginx nginx(
      "  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port) + ";\n"
      "    location /dip/webhook/ {\n" + testing::DipVerifyTrust() +
      "      dip_verify_environment nonprod;\n"
      "      proxy_set_header X-DIP-Verified $dip_verify_status;\n"
      "      proxy_set_header X-DIP-Signer $dip_signer_subject;\n"
      "      proxy_pass https://" + host_ + ":" + std::to_string(port_) + ";\n"
      "      proxy_ssl_certificate " + PkiFile("tls-client.pem") + ";\n"
      "      proxy_ssl_certificate_key " + PkiFile("tls-client.key") + ";\n"
      "      proxy_ssl_trusted_certificate " + PkiFile("ca-bundle.pem") + ";\n"
      "      proxy_ssl_verify on;\n"
      "      proxy_ssl_name localhost;\n"
      "    }\n  }\n");
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string body = Array({Message(704, true, "T-IF-033-0140321855-SDS-20261201-E2")});
  std::string url = "http://127.0.0.1:" + std::to_string(nginx_port) + "/dip/webhook/if-033";
  SignAsTheDip(dir_, url, body);
  HttpResult through = Curl("-X POST -H @" + dir_ + "/headers --data-binary @" + dir_ +
                            "/signed.json " + url);
  EXPECT_EQ(through.status, 201) << through.raw << nginx.ErrorLog() << Tail(dir_ + "/bridge.log");
  auto records = ReadTopic(broker_->bootstrap(), topic_prefix_ + "IF-033", 2, 8000);
  ASSERT_EQ(records.size(), 1u) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(records[0].headers.at("dip.transactionID"), "T-IF-033-0140321855-SDS-20261201-E2");
  EXPECT_NE(records[0].headers.at("dip.signer").find("CN=energydip-nonprod."), std::string::npos);
}

}  // namespace
}  // namespace dipgate
