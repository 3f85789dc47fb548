// The Kafka bridge against a real Apache Kafka broker (KRaft, started by
// tests/kafka/kafka.sh) and a DIP stand-in over mutual TLS that verifies
// every signature independently (tools/dip_standin/dip_standin.py). Fault tests
// check the outcome the way Kafka Connect's and Jepsen's checks do: every
// produced message was delivered or dead-lettered, duplicates only from
// redelivery, and per-key order kept.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/kafka_fixture.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::MutualTlsListen;
using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;
using testing::Broker;
using testing::BridgeProcess;
using testing::Producer;
using testing::ReadTopic;
using testing::Tail;


// The public IF-033 sample with its senderUniqueReference carrying key and
// sequence, and an MPAN per key (SampleRecord).
std::string Message(const std::string& key, int seq, bool wrapped) {
  return testing::SampleRecord("", key, seq, wrapped);
}

// The key and sequence a Message() carries, from its senderUniqueReference.
std::pair<std::string, int> KeyAndSeq(const std::string& reference) {
  size_t at = reference.rfind('-');
  std::string tail = reference.substr(at + 1);
  size_t x = tail.rfind('x');
  return {tail.substr(0, x), atoi(tail.c_str() + x + 1)};
}

// One message the sandbox accepted (a line of its --record file holds a
// POST; a batch holds several).
struct Record {
  std::string key;
  int seq;
  bool verified;
  std::string api_key;
  std::string cert;
  double received, answered;  // when the POST arrived and was answered
  size_t batch;               // messages in its POST
};

std::vector<Record> Delivered(const std::string& record_file) {
  std::vector<Record> out;
  std::istringstream in(ReadFile(record_file));
  std::string line;
  while (std::getline(in, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError()) continue;
    rapidjson::Document body;
    body.Parse(d["body"].GetString());
    if (!body.IsArray()) continue;
    for (const auto& m : body.GetArray()) {
      const auto& s1 = m["payload"]["CommonBlock"]["S1"];
      auto [key, seq] = KeyAndSeq(s1["senderUniqueReference"].GetString());
      out.push_back({key, seq, d["verified"].GetBool(),
                     d["api_key"].IsString() ? d["api_key"].GetString() : "",
                     d["cert_sha256"].GetString(), d["received"].GetDouble(),
                     d["answered"].GetDouble(), body.Size()});
    }
  }
  return out;
}

class BridgeTest : public testing::KafkaTest {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("bridge");
    behaviour_ = dir_ + "/behaviour";
    record_ = dir_ + "/delivered.jsonl";
    outcomes_ = dir_ + "/outcomes.jsonl";
    WriteFile(behaviour_, "");
    topic_ = "dip-out-" + std::to_string(++counter_);
    dlq_ = topic_ + "-dlq";
    metrics_port_ = testing::FreePort();
  }

  // The DIP sandbox over mutual TLS, with the primary and secondary API
  // keys; `extra`: more of its options (--latency, --rate).
  void StartSandbox(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--behaviour-file", behaviour_, "--record", record_,
                                     "--outcomes", outcomes_, "--api-key", "primary-key",
                                     "--api-key", "secondary-key"};
    if (strict_duplicates_) args.insert(args.end(), {"--duplicates", "strict"});
    args.insert(args.end(), extra.begin(), extra.end());
    sandbox_ = std::make_unique<testing::Ingress>(true, true, false, args);
  }

  // The bridge's configuration with `extra` keys added; the defaults below
  // stand for the keys `extra` does not set.
  std::string Config(const std::string& extra = "") {
    if (!sandbox_) StartSandbox();
    std::string defaults;
    for (const auto& [key, value] :
         {std::pair<std::string, std::string>{"retry", R"({"initial_backoff_ms": 50, "max_backoff_ms": 400})"},
          {"timeouts", R"({"connect_ms": 2000, "request_ms": 1500})"},
          {"max_in_flight", "4"},
          {"max_buffered_messages", "50"}}) {
      if (extra.find("\"" + key + "\"") == std::string::npos) {
        defaults += ",\n  \"" + key + "\": " + value;
      }
    }
    std::string path = dir_ + "/bridge-" + std::to_string(++configs_) + ".json";
    WriteFile(path, R"({
  "kafka": {"bootstrap.servers": ")" + broker_->bootstrap() + R"(", "group.id": ")" + topic_ +
                        R"(-group", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "topic.metadata.refresh.interval.ms": 1000},
  "identities": [{"name": "mp", "certificate": ")" + PkiFile("signer-rsa.pem") + R"(",
                  "key": ")" + PkiFile("signer-rsa.key") + R"(", "dip_ids": ["8795183096"]}],
  "dip_base_url": "https://localhost:)" + std::to_string(sandbox_->port()) + R"(",
  "routes": [{"topic": ")" + topic_ + R"("}],
  "tls": {"client_certificate": ")" + PkiFile("tls-client.pem") + R"(",
          "client_key": ")" + PkiFile("tls-client.key") + R"(", "ca": ")" + PkiFile("ca-bundle.pem") + R"("},
  "api_key": {"primary": "primary-key", "secondary": "secondary-key"},
  "dead_letter_topic": ")" + dlq_ + R"(",
  "shutdown_timeout_ms": 5000,
  "metrics_listen": "127.0.0.1:)" + std::to_string(metrics_port_) + "\"" + defaults + extra + "\n}\n");
    return path;
  }

  // Produces `n` messages over `keys` keys, alternating the two envelope
  // shapes; returns key -> seqs in order. `partition`: all to one.
  std::map<std::string, std::vector<int>> Produce(int n, int keys, int first = 0,
                                                  int32_t partition = RdKafka::Topic::PARTITION_UA) {
    Producer p(broker_->bootstrap());
    std::map<std::string, std::vector<int>> sent;
    for (int i = first; i < first + n; ++i) {
      std::string key = "k" + std::to_string(i % keys);
      p.Send(topic_, key, Message(key, i, i % 2 == 0), partition);
      sent[key].push_back(i);
    }
    p.Flush();
    return sent;
  }

  // `n` messages (wrapped), each its own key, number `poison` made
  // schema-invalid: an MPANCore of 2 digits (DT-002 wants 13).
  std::map<std::string, std::vector<int>> ProduceWithPoison(
      int n, int poison, int32_t partition = RdKafka::Topic::PARTITION_UA) {
    Producer p(broker_->bootstrap());
    std::map<std::string, std::vector<int>> sent;
    for (int i = 0; i < n; ++i) {
      std::string key = "k" + std::to_string(i);
      std::string value = Message(key, i, true);
      if (i == poison) {
        size_t at = value.find("\"MPANCore\":\"") + 12;
        value.replace(at, 13, "12");
      }
      p.Send(topic_, key, value, partition);
      sent[key].push_back(i);
    }
    p.Flush();
    return sent;
  }

  bool WaitDelivered(size_t n, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 100) {
      std::set<std::pair<std::string, int>> unique;
      for (const auto& r : Delivered(record_)) unique.insert({r.key, r.seq});
      if (unique.size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string Metrics() {
    return testing::Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics").body;
  }

  // A counter or gauge of the bridge's /metrics, -1 when absent.
  int64_t Metric(const std::string& name) {
    std::string m = Metrics();
    size_t at = m.find("\n" + name + " ");
    return at == std::string::npos ? -1 : atoll(m.c_str() + at + name.size() + 2);
  }

  // Waits until the bridge's metric reaches `value`.
  bool WaitMetric(const std::string& name, int64_t value, int timeout_ms = 10000) {
    for (int waited = 0; waited < timeout_ms; waited += 100) {
      if (Metric(name) >= value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Every message delivered (or in `dead`), each verified by the
  // independent checker, first deliveries in per-key order; returns the
  // number of duplicates (redeliveries).
  int CheckHistory(const std::map<std::string, std::vector<int>>& sent,
                   const std::set<int>& dead = {}) {
    std::vector<Record> got = Delivered(record_);
    std::map<std::string, std::vector<int>> first_order;
    std::set<std::pair<std::string, int>> seen;
    int duplicates = 0;
    for (const Record& r : got) {
      EXPECT_TRUE(r.verified) << r.key << "/" << r.seq;
      if (!seen.insert({r.key, r.seq}).second) {
        ++duplicates;
        continue;
      }
      first_order[r.key].push_back(r.seq);
    }
    size_t total = 0;
    for (const auto& [key, seqs] : sent) {
      std::vector<int> expected;
      for (int s : seqs) {
        if (!dead.count(s)) expected.push_back(s);
      }
      total += seqs.size();
      EXPECT_EQ(first_order[key], expected) << "key " << key << ": lost or reordered";
    }
    EXPECT_EQ(seen.size() + dead.size(), total);
    RecordProperty("duplicates", duplicates);
    std::cout << "history: " << total << " produced, " << seen.size() << " delivered, "
              << dead.size() << " dead-lettered, " << duplicates << " duplicates\n";
    return duplicates;
  }

  static int counter_;
  // The sandbox answers a resent message the strict way: 400 for its array,
  // MSG1006 on its entry (--duplicates strict), not 201.
  bool strict_duplicates_ = false;
  std::unique_ptr<testing::Ingress> sandbox_;
  std::string dir_, behaviour_, record_, outcomes_, topic_, dlq_;
  int metrics_port_ = 0;
  int configs_ = 0;
};

int BridgeTest::counter_ = 0;

// The cases where a message reaches the DIP twice, against both ways a DIP
// may answer the second copy: 201 with MSG1006 on its entry ("accept"), or
// 400 for the array with MSG1006 on its entry ("strict"). Either way it is
// delivered, never dead-lettered.
class BridgeResendTest : public BridgeTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    BridgeTest::SetUp();
    strict_duplicates_ = GetParam() == "strict";
  }
};

INSTANTIATE_TEST_SUITE_P(Duplicates, BridgeResendTest, ::testing::Values("accept", "strict"),
                         [](const auto& info) { return info.param; });

TEST_F(BridgeTest, DeliversEverythingInOrderAndStopsCleanly) {
  auto sent = Produce(120, 6);
  BridgeProcess bridge(Config(), dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(120, 60000)) << Tail(dir_ + "/bridge.log");
  // The DIP records a message before the bridge reads its answer: wait for
  // the bridge's own count to catch up.
  testing::HttpResult metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = testing::Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
    if (metrics.body.find("dipgate_bridge_delivered_total 120") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(metrics.body.find("dipgate_bridge_delivered_total 120"), std::string::npos)
      << metrics.body;
  // The sandbox speaks HTTP/1.1 only: the bridge asked for HTTP/2, noticed,
  // and says so once.
  EXPECT_NE(metrics.body.find("\ndipgate_bridge_http1_fallback 1"), std::string::npos);
  EXPECT_EQ(testing::Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/healthz").status, 200);
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  std::string log = ReadFile(dir_ + "/bridge.log");
  EXPECT_NE(log.find("\"event\":\"stopped\""), std::string::npos) << log.substr(0, 2000);
  size_t fallback = log.find("\"event\":\"http1_fallback\"");
  EXPECT_NE(fallback, std::string::npos);
  EXPECT_EQ(log.find("\"event\":\"http1_fallback\"", fallback + 1), std::string::npos) << "said twice";
  CheckHistory(sent);
  for (const Record& r : Delivered(record_)) EXPECT_EQ(r.api_key, "primary-key");
  // Offsets were committed: a new bridge in the group delivers nothing again.
  size_t before = Delivered(record_).size();
  BridgeProcess again(Config(), dir_ + "/bridge2.log");
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(again.Stop(SIGTERM), 0);
  EXPECT_EQ(Delivered(record_).size(), before);
}

TEST_P(BridgeResendTest, EachFailureClass) {
  // Retried: 500, 503, 429 with Retry-After, a reset connection, a slow
  // answer past the request timeout (the DIP took it, the bridge could not
  // know: delivered again, and the DIP answers MSG1006). Dead-lettered: 400.
  // The primary key refused (401) falls back to the secondary.
  WriteFile(behaviour_, "500 2\n503 1\n429 1\nreset 1\nslow 2500 1\npass 1\n400 1\n401 1\n");
  Config();  // starts the sandbox
  Producer p(broker_->bootstrap());
  p.Send(topic_, "k0", Message("k0", 0, false));  // 500,500,503,429,reset,slow,201
  p.Send(topic_, "k0", Message("k0", 1, false));  // 400 -> DLQ
  p.Send(topic_, "k0", Message("k0", 2, false));  // 401 -> secondary key -> 201
  p.Send(topic_, "k0", "{not json");              // invalid JSON -> DLQ
  p.Send(topic_, "k0", "{\"CommonBlock\":{}}");   // no envelope -> DLQ
  p.Send(topic_, "k0", Message("k0", 5, false));
  p.Flush();
  BridgeProcess bridge(Config(), dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(3, 90000)) << Tail(dir_ + "/bridge.log");
  auto dead = ReadTopic(broker_->bootstrap(), dlq_, 3, 30000);
  // Every dead letter counted, by reason.
  EXPECT_TRUE(WaitMetric("dipgate_bridge_dead_lettered_total", 3));
  std::string metrics = Metrics();
  for (const char* reason : {"rejected_by_dip", "invalid_json", "missing_envelope"}) {
    EXPECT_NE(metrics.find("dipgate_bridge_dead_letters_total{reason=\"" + std::string(reason) +
                           "\"} 1"),
              std::string::npos)
        << reason << "\n" << metrics;
  }
  EXPECT_EQ(Metric("dipgate_bridge_api_key_fallbacks_total"), 1);
  // Every answer of the DIP counted by its status, "0" for none: the reset
  // and the answer past the request timeout, one POST when curl sends the
  // request again itself (its reused connection closed without an answer).
  // The resend after the timeout arrives while the slow answer is still
  // sleeping: 201 in both modes (the slow one then finds the duplicate).
  EXPECT_TRUE(WaitMetric("dipgate_bridge_delivered_total", 3));
  std::map<std::string, int64_t> expected = {{"0", 1},   {"201", 3}, {"400", 1}, {"401", 1},
                                             {"429", 1}, {"500", 2}, {"503", 1}};
  metrics = Metrics();
  std::map<std::string, int64_t> answers;
  int64_t answered = 0;
  const std::string answer_prefix = "\ndipgate_bridge_dip_answers_total{status=\"";
  for (size_t at = metrics.find(answer_prefix); at != std::string::npos;
       at = metrics.find(answer_prefix, at + 1)) {
    size_t begin = at + answer_prefix.size(), end = metrics.find('"', begin);
    int64_t n = atoll(metrics.c_str() + metrics.find("} ", end) + 2);
    if (n > 0) answers[metrics.substr(begin, end - begin)] = n;  // the usual ones show at 0
    answered += n;
  }
  for (const char* usual : {"403", "502", "504"}) {  // shown before any such answer
    EXPECT_NE(metrics.find(answer_prefix + usual + "\"} 0\n"), std::string::npos) << usual;
  }
  EXPECT_TRUE(answers["0"] == 1 || answers["0"] == 2) << metrics;
  expected["0"] = answers["0"];
  EXPECT_EQ(answers, expected) << metrics;
  EXPECT_EQ(answered, Metric("dipgate_bridge_posts_total")) << "a POST not answered once";
  EXPECT_EQ(Metric("dipgate_bridge_healthy"), 1);  // what /healthz says, for alert rules
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory({{"k0", {0, 1, 2, 5}}}, {1});
  for (const Record& r : Delivered(record_)) {
    EXPECT_EQ(r.api_key, r.seq == 2 ? "secondary-key" : "primary-key") << r.seq;
  }
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0].headers["dip.errors.reason"], "rejected_by_dip");
  EXPECT_EQ(dead[0].headers["dip.errors.detail"], "HTTP 400");
  EXPECT_EQ(dead[0].headers["dip.errors.http.status"], "400");
  EXPECT_NE(dead[0].headers["dip.errors.response.excerpt"].find("scripted answer 400"),
            std::string::npos);
  EXPECT_EQ(dead[0].headers["dip.errors.topic"], topic_);
  EXPECT_EQ(dead[0].headers["dip.errors.partition"].empty(), false);
  EXPECT_EQ(dead[0].headers["dip.errors.offset"], "1");
  EXPECT_EQ(dead[0].value, Message("k0", 1, false));
  EXPECT_EQ(dead[1].headers["dip.errors.reason"], "invalid_json");
  EXPECT_NE(dead[1].headers["dip.errors.detail"], "");
  EXPECT_EQ(dead[1].value, "{not json");
  EXPECT_EQ(dead[2].headers["dip.errors.reason"], "missing_envelope");
  std::string log = ReadFile(dir_ + "/bridge.log");
  EXPECT_NE(log.find("\"event\":\"retry\""), std::string::npos);
  EXPECT_NE(log.find("\"event\":\"api_key_fallback\""), std::string::npos);
}

TEST_F(BridgeTest, BrokerRestartMidStream) {
  auto sent = Produce(100, 5);
  BridgeProcess bridge(Config(), dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(20, 60000));
  broker_->Stop();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(broker_->Restart());
  auto more = Produce(100, 5, 100);
  for (auto& [k, v] : more) sent[k].insert(sent[k].end(), v.begin(), v.end());
  ASSERT_TRUE(WaitDelivered(200, 120000)) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent);
}

TEST_F(BridgeTest, BridgeKilledMidStreamAndRestarted) {
  WriteFile(behaviour_, "slow 30 100000\n");  // slow the DIP so the kill lands mid-stream
  auto sent = Produce(200, 8);
  auto bridge = std::make_unique<BridgeProcess>(Config(), dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(40, 60000));
  bridge->Stop(SIGKILL);
  size_t at_kill = Delivered(record_).size();
  EXPECT_LT(at_kill, 200u);
  WriteFile(behaviour_, "");
  bridge = std::make_unique<BridgeProcess>(Config(), dir_ + "/bridge2.log");
  ASSERT_TRUE(WaitDelivered(200, 90000)) << Tail(dir_ + "/bridge2.log");
  EXPECT_EQ(bridge->Stop(SIGTERM), 0);
  CheckHistory(sent);
}

TEST_F(BridgeTest, RebalanceBetweenTwoInstances) {
  WriteFile(behaviour_, "slow 20 100000\n");
  auto sent = Produce(300, 12);
  BridgeProcess first(Config(), dir_ + "/first.log");
  ASSERT_TRUE(WaitDelivered(30, 60000));
  std::string second_config = Config();
  // Its own metrics port.
  std::string text = ReadFile(second_config);
  text.replace(text.find(std::to_string(metrics_port_)), std::to_string(metrics_port_).size(),
               std::to_string(testing::FreePort()));
  WriteFile(second_config, text);
  BridgeProcess second(second_config, dir_ + "/second.log");
  ASSERT_TRUE(WaitDelivered(300, 120000)) << Tail(dir_ + "/second.log");
  EXPECT_EQ(first.Stop(SIGTERM), 0);
  EXPECT_EQ(second.Stop(SIGTERM), 0);
  EXPECT_NE(ReadFile(dir_ + "/first.log").find("\"event\":\"revoked\""), std::string::npos);
  EXPECT_NE(ReadFile(dir_ + "/second.log").find("\"event\":\"delivered\""), std::string::npos);
  CheckHistory(sent);
}

TEST_F(BridgeTest, SighupReloadsRotatedCertificate) {
  std::string id_dir = testing::NewTempDir("identity");
  WriteFile(id_dir + "/sign.pem", ReadFile(PkiFile("signer-rsa.pem")));
  WriteFile(id_dir + "/sign.key", ReadFile(PkiFile("signer-rsa.key")));
  chmod((id_dir + "/sign.key").c_str(), 0600);
  std::string config = Config();
  std::string text = ReadFile(config);
  for (auto [from, to] : {std::pair{PkiFile("signer-rsa.pem"), id_dir + "/sign.pem"},
                          std::pair{PkiFile("signer-rsa.key"), id_dir + "/sign.key"}}) {
    text.replace(text.find(from), from.size(), to);
  }
  WriteFile(config, text);
  auto sent = Produce(10, 2);
  BridgeProcess bridge(config, dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(10, 60000));
  // Renewal (CoCo 6.1.4): new certificate and key in place, then SIGHUP.
  WriteFile(id_dir + "/sign.pem", ReadFile(PkiFile("signer-ec.pem")));
  WriteFile(id_dir + "/sign.key", ReadFile(PkiFile("signer-ec.key")));
  bridge.Signal(SIGHUP);
  for (int i = 0; i < 100 && ReadFile(dir_ + "/bridge.log").find("\"event\":\"reloaded\"") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto more = Produce(10, 2, 10);
  for (auto& [k, v] : more) sent[k].insert(sent[k].end(), v.begin(), v.end());
  ASSERT_TRUE(WaitDelivered(20, 60000));
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent);
  std::set<std::string> before, after;
  for (const Record& r : Delivered(record_)) (r.seq < 10 ? before : after).insert(r.cert);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(*before.begin(), *after.begin());
}

// HTTP/2 when the server offers it: nginx (h2, mutual TLS, dip_verify from
// this project) stands in for the DIP.
TEST_F(BridgeTest, DeliversOverHttp2ToNginx) {
  int port = testing::FreePort(), back = testing::FreePort();
  testing::Nginx nginx(
      "  log_format dip '$server_protocol $dip_verify_status $status';\n"
      "  server {\n" + MutualTlsListen(port, "ssl http2") +
      "    access_log $PREFIX/logs/dip.log dip;\n"
      "    location /api/ {\n" + testing::DipVerifyTrust() +
      "      dip_verify_environment nonprod;\n"
      "      proxy_pass http://127.0.0.1:" + std::to_string(back) + "/ok;\n    }\n  }\n"
      "  server {\n    listen 127.0.0.1:" + std::to_string(back) + ";\n"
      "    location /ok { return 200 \"ok\\n\"; }\n  }\n");
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  // A route with its own URL: nginx verifies and answers 200 "ok" (not a
  // StandardResponse: delivered, as a 2xx).
  std::string config = Config();
  std::string text = ReadFile(config);
  std::string from = "\"routes\": [{\"topic\": \"" + topic_ + "\"}]";
  text.replace(text.find(from), from.size(),
               "\"routes\": [{\"topic\": \"" + topic_ + "\", \"url\": \"https://localhost:" +
                   std::to_string(port) + "/api/{interfaceID}\"}]");
  WriteFile(config, text);
  Produce(20, 2);
  BridgeProcess bridge(config, dir_ + "/bridge.log");
  std::string log;
  for (int i = 0; i < 300; ++i) {
    log = ReadFile(nginx.prefix() + "/logs/dip.log");
    if (std::count(log.begin(), log.end(), '\n') >= 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Metric("dipgate_bridge_http1_fallback"), 0);
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 20) << log;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) EXPECT_EQ(line, "HTTP/2.0 ok 200");
}

TEST_F(BridgeTest, BackPressurePausesInsteadOfBuffering) {
  WriteFile(behaviour_, "slow 40 100000\n");
  auto sent = Produce(400, 4);
  std::string config = Config(R"(, "max_buffered_messages": 20)");
  BridgeProcess bridge(config, dir_ + "/bridge.log");
  int64_t peak = 0;
  bool paused_seen = false;
  std::string url = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
  for (int i = 0; i < 600 && Delivered(record_).size() < 400; ++i) {
    std::string m = testing::Curl(url).body;
    size_t at = m.find("\ndipgate_bridge_buffered_peak ");
    if (at != std::string::npos) peak = atoll(m.c_str() + at + 30);
    paused_seen = paused_seen || m.find("\ndipgate_bridge_paused 1") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(WaitDelivered(400, 60000));
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  EXPECT_TRUE(paused_seen);
  // Bounded: the limit, plus the message that reached it.
  EXPECT_GT(peak, 0);
  EXPECT_LE(peak, 21) << "buffered past the limit";
  EXPECT_NE(ReadFile(dir_ + "/bridge.log").find("\"event\":\"paused\""), std::string::npos);
  CheckHistory(sent);
  std::cout << "buffered peak: " << peak << "\n";
}

// Order per key, not per partition: 64 keys on one partition, the DIP 30 ms
// away. Seen from the DIP: the POSTs of one key never overlap and come in
// offset order; POSTs of different keys do overlap.
TEST_F(BridgeTest, PerKeyOrderWithManyKeysOnOnePartition) {
  StartSandbox({"--latency", "30"});
  auto sent = Produce(640, 64, 0, /*partition=*/0);
  BridgeProcess bridge(Config(R"(, "max_in_flight": 32, "max_buffered_messages": 200,
      "max_connections": 32, "timeouts": {"connect_ms": 5000, "request_ms": 10000})"),
                       dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(640, 120000)) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent);
  std::map<std::string, std::vector<Record>> by_key;
  std::vector<std::pair<double, int>> edges;  // +1 at arrival, -1 at answer
  for (const Record& r : Delivered(record_)) {
    by_key[r.key].push_back(r);
    edges.push_back({r.received, 1});
    edges.push_back({r.answered, -1});
  }
  for (auto& [key, records] : by_key) {
    for (size_t i = 1; i < records.size(); ++i) {
      EXPECT_GE(records[i].received, records[i - 1].answered)
          << "key " << key << ": seq " << records[i].seq << " sent while seq "
          << records[i - 1].seq << " was in flight";
    }
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& [t, step] : edges) most = std::max(most, now += step);
  std::cout << "most POSTs in flight at once: " << most << "\n";
  EXPECT_GT(most, 4) << "keys were not delivered concurrently";
}

// Commits stop at the first record not done. A slow POST holds the gap while
// later offsets are delivered; the bridge is killed; its successor starts at
// the gap: what was delivered above it is sent again (at most what the
// buffer held) and the DIP's MSG1006 turns it into success, not a dead
// letter. Nothing below the gap is sent again.
TEST_P(BridgeResendTest, CommitsOnlyTheContiguousPrefix) {
  auto sent = Produce(10, 8, 0, /*partition=*/0);
  std::string config = Config(R"(, "timeouts": {"connect_ms": 2000, "request_ms": 60000},
      "max_in_flight": 8, "max_buffered_messages": 40)");
  auto bridge = std::make_unique<BridgeProcess>(config, dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(10, 60000)) << Tail(dir_ + "/bridge.log");
  std::this_thread::sleep_for(std::chrono::seconds(1));  // committed (every 200 ms)
  WriteFile(behaviour_, "slow 30000 1\n");
  auto more = Produce(90, 8, 10, /*partition=*/0);
  for (auto& [k, v] : more) sent[k].insert(sent[k].end(), v.begin(), v.end());
  ASSERT_TRUE(WaitDelivered(30, 60000)) << Tail(dir_ + "/bridge.log");
  bridge->Stop(SIGKILL);
  WriteFile(behaviour_, "");
  size_t before_kill = Delivered(record_).size();
  bridge = std::make_unique<BridgeProcess>(Config(), dir_ + "/bridge2.log");
  ASSERT_TRUE(WaitDelivered(100, 90000)) << Tail(dir_ + "/bridge2.log");
  EXPECT_TRUE(WaitMetric("dipgate_bridge_delivered_total", 1));
  int64_t duplicates_answered = Metric("dipgate_bridge_dip_duplicates_total");
  EXPECT_EQ(Metric("dipgate_bridge_dead_lettered_total"), 0);
  EXPECT_EQ(bridge->Stop(SIGTERM), 0);
  int duplicates = CheckHistory(sent);
  std::map<std::pair<std::string, int>, int> times;
  for (const Record& r : Delivered(record_)) ++times[{r.key, r.seq}];
  for (const auto& [id, n] : times) {
    if (id.second < 10) EXPECT_EQ(n, 1) << id.first << "/" << id.second << " (below the gap)";
  }
  // The sandbox records what it accepted: a strict DIP accepts no resend
  // (it answers 400 + MSG1006), so there the DIP's answers count them.
  int resent = strict_duplicates_ ? static_cast<int>(duplicates_answered) : duplicates;
  std::cout << GetParam() << ": delivered before the kill: " << before_kill
            << ", sent again: " << resent << ", answered MSG1006: " << duplicates_answered << "\n";
  if (strict_duplicates_) EXPECT_EQ(duplicates, 0) << "a strict DIP accepted a resend";
  EXPECT_GE(resent, 1) << "the commit went past a record still in flight";
  EXPECT_LE(resent, 40 + 1) << "more sent again than the buffer held";
  EXPECT_GE(duplicates_answered, duplicates - 1);
}

// Messages produced twice (a producer's retry): the second copy reaches the
// DIP as a resend, alone (batch 1) or in an array with others (batch 20).
// Delivered as already received, never dead-lettered; with a strict DIP the
// array's other messages go again without it.
TEST_P(BridgeResendTest, ResentMessagesAreDeliveredAloneAndInBatches) {
  for (int batch : {1, 20}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    topic_ = "dip-out-resend-" + std::to_string(++counter_);
    dlq_ = topic_ + "-dlq";
    WriteFile(record_, "");
    const int base = batch == 1 ? 0 : 1000;  // references new to the sandbox
    Producer p(broker_->bootstrap());
    std::map<std::string, std::vector<int>> sent;
    for (int i = base; i < base + 100; ++i) {
      std::string key = "k" + std::to_string(i % 16);
      p.Send(topic_, key, Message(key, i, i % 2 == 0), 0);
      sent[key].push_back(i);
      if (i == base + 40 || i == base + 41) {  // both again, among new messages
        p.Send(topic_, key, Message(key, i, i % 2 == 0), 0);
      }
    }
    for (int i = base + 100; i < base + 200; ++i) {
      std::string key = "k" + std::to_string(i % 16);
      p.Send(topic_, key, Message(key, i, i % 2 == 0), 0);
      sent[key].push_back(i);
    }
    p.Flush();
    BridgeProcess bridge(
        Config(R"(, "batch": {"max_messages": )" + std::to_string(batch) +
               R"(, "linger_ms": 200}, "max_in_flight": 40, "max_buffered_messages": 400)"),
        dir_ + "/bridge-" + std::to_string(batch) + ".log");
    ASSERT_TRUE(WaitDelivered(200, 60000)) << Tail(dir_ + "/bridge-" + std::to_string(batch) + ".log");
    EXPECT_TRUE(WaitMetric("dipgate_bridge_dip_duplicates_total", 2))
        << Tail(dir_ + "/bridge-" + std::to_string(batch) + ".log");
    EXPECT_EQ(Metric("dipgate_bridge_dead_lettered_total"), 0);
    EXPECT_EQ(Metric("dipgate_bridge_dip_duplicates_total"), 2);
    EXPECT_EQ(bridge.Stop(SIGTERM), 0);
    CheckHistory(sent);
    EXPECT_TRUE(ReadTopic(broker_->bootstrap(), dlq_, 1, 2000).empty());
    if (strict_duplicates_ && batch > 1) {  // refused arrays went again without the resends
      EXPECT_NE(ReadFile(dir_ + "/bridge-20.log").find("\"event\":\"resend_without_duplicates\""),
                std::string::npos);
    }
  }
}

// Batches of 20 in one DIPMessageArray; the DIP refuses an array with one
// schema-invalid message as a whole (400, MSG1001): the bridge splits it
// until that message is alone, dead-letters only it with the DIP's code, and
// delivers the other 59.
TEST_F(BridgeTest, BatchSplitIsolatesOnePoisonMessage) {
  auto sent = ProduceWithPoison(60, 30, /*partition=*/0);
  BridgeProcess bridge(Config(R"(, "batch": {"max_messages": 20, "linger_ms": 300},
      "max_in_flight": 60, "max_buffered_messages": 200)"), dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(59, 60000)) << Tail(dir_ + "/bridge.log");
  auto dead = ReadTopic(broker_->bootstrap(), dlq_, 1, 30000);
  EXPECT_TRUE(WaitMetric("dipgate_bridge_dead_lettered_total", 1));
  int64_t splits = Metric("dipgate_bridge_batch_splits_total");
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent, {30});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].key, "k30");
  EXPECT_EQ(dead[0].headers["dip.errors.reason"], "rejected_by_dip");
  EXPECT_EQ(dead[0].headers["dip.errors.http.status"], "400");
  EXPECT_EQ(dead[0].headers["dip.errors.dip.code"], "MSG1001");
  EXPECT_NE(dead[0].headers["dip.errors.dip.help"].find("MPANCore"), std::string::npos)
      << dead[0].headers["dip.errors.dip.help"];
  EXPECT_GE(splits, 2) << "20 -> 10 -> 5 ... -> 1";
  size_t largest = 0;
  for (const Record& r : Delivered(record_)) largest = std::max(largest, r.batch);
  EXPECT_GT(largest, 1u) << "nothing was batched";
  EXPECT_LE(largest, 20u);
}

// With the spec's schemas configured, a schema-invalid message is
// dead-lettered with its JSON pointer without spending a DIP call; each
// delivered message gets a receipt with the DIP's transactionID.
TEST_F(BridgeTest, SchemaDeadLetterAndReceipts) {
  std::string receipts = topic_ + "-receipts";
  auto sent = ProduceWithPoison(6, 3);
  BridgeProcess bridge(Config(R"(, "schemas": ")" + Runfile("third_party/dip_api/schemas") +
                              R"(", "receipts_topic": ")" + receipts + "\""),
                       dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(5, 60000)) << Tail(dir_ + "/bridge.log");
  auto dead = ReadTopic(broker_->bootstrap(), dlq_, 1, 30000);
  auto got = ReadTopic(broker_->bootstrap(), receipts, 5, 30000);
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent, {3});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers["dip.errors.reason"], "schema_invalid");
  EXPECT_EQ(dead[0].headers["dip.errors.json.pointer"], "/0/payload/CommonBlock/M0/MPANCore");
  EXPECT_EQ(dead[0].headers["dip.errors.http.status"], "0");
  // The DIP never saw it.
  EXPECT_EQ(ReadFile(outcomes_).find("k3x3"), std::string::npos);
  ASSERT_EQ(got.size(), 5u);
  std::set<std::string> references;
  for (const auto& r : got) {
    rapidjson::Document d;
    d.Parse(r.value.c_str());
    ASSERT_FALSE(d.HasParseError()) << r.value;
    EXPECT_EQ(std::string(d["code"].GetString()), "MSG0000") << r.value;
    EXPECT_EQ(d["httpStatus"].GetInt(), 201);
    EXPECT_EQ(std::string(d["channel"].GetString()), "IF-033");
    EXPECT_NE(std::string(d["transactionID"].GetString()), "") << r.value;
    references.insert(d["senderUniqueReference"].GetString());
    EXPECT_EQ(KeyAndSeq(d["senderUniqueReference"].GetString()).first, r.key);
  }
  EXPECT_EQ(references.size(), 5u);
}

// The DIP's rate limit answers 429 with Retry-After: the whole channel
// waits, not only the refused POST. nginx in front of the sandbox limits the
// rate and logs when each request arrived ($msec - $request_time, taken
// when its first byte came, unlike a timestamp in Python): after the bridge
// has a 429, no POST arrives until the Retry-After (1 s) has passed.
TEST_F(BridgeTest, RateLimitHoldsTheWholeChannel) {
  StartSandbox();
  int port = testing::FreePort();
  testing::Nginx nginx(
      "  limit_req_zone $server_port zone=dip:1m rate=5r/s;\n"
      "  log_format times '$msec $request_time $status';\n"
      "  server {\n" + MutualTlsListen(port, "ssl") +
      "    access_log $PREFIX/logs/times.log times;\n"
      "    location /dip-channel/ {\n"
      "      limit_req zone=dip burst=4 nodelay;\n"
      "      limit_req_status 429;\n"
      "      add_header Retry-After 1 always;\n"
      "      proxy_pass https://127.0.0.1:" + std::to_string(sandbox_->port()) + ";\n"
      "      proxy_set_header Host $http_host;\n"
      "      proxy_ssl_certificate " + PkiFile("tls-client.pem") + ";\n"
      "      proxy_ssl_certificate_key " + PkiFile("tls-client.key") + ";\n"
      "    }\n  }\n");
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string config = Config(R"(, "retry": {"initial_backoff_ms": 100, "max_backoff_ms": 5000},
      "max_in_flight": 16, "max_connections": 16)");
  std::string text = ReadFile(config);
  std::string from = "localhost:" + std::to_string(sandbox_->port());
  text.replace(text.find(from), from.size(), "localhost:" + std::to_string(port));
  WriteFile(config, text);
  auto sent = Produce(40, 40, 0, /*partition=*/0);
  BridgeProcess bridge(config, dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(40, 120000)) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent);
  struct Seen {
    double start, end;
    int status;
  };
  std::vector<Seen> all;
  std::istringstream lines(ReadFile(nginx.prefix() + "/logs/times.log"));
  double end = 0, took = 0;
  int status = 0;
  while (lines >> end >> took >> status) all.push_back({end - took, end, status});
  int limited = 0, early = 0;
  std::ostringstream why;
  for (const Seen& o : all) {
    if (o.status != 429) continue;
    ++limited;
    for (const Seen& later : all) {
      // Arrived after the bridge had the 429 (slack for requests already on
      // their way), before its Retry-After was over.
      if (later.start > o.end + 0.2 && later.start < o.end + 0.95) {
        ++early;
        why << std::fixed << "429 at " << o.end - all[0].start << " s, then a " << later.status
            << " arrived at " << later.start - all[0].start << " s\n";
      }
    }
  }
  std::cout << all.size() << " requests, " << limited << " answered 429\n";
  EXPECT_GT(limited, 0) << "the rate limit never hit";
  EXPECT_EQ(early, 0) << "POSTs went on while the channel was told to wait:\n" << why.str();
}

// Back-pressure pauses only the partitions over their share of the buffer.
// Partition 0 holds one key (its records go one at a time, so its buffer
// stays full); partitions 1 and 2 hold many keys and drain at once: they are
// delivered, and resumed, while partition 0 stays paused.
TEST_F(BridgeTest, BackPressurePausesOnlyThePartitionOverItsShare) {
  StartSandbox({"--latency", "20"});
  Producer p(broker_->bootstrap());
  std::map<std::string, std::vector<int>> sent;
  for (int i = 0; i < 450; ++i) {
    int32_t partition = i % 3;
    // A key lives in one partition (Kafka orders within a partition only).
    std::string key =
        partition == 0 ? "slow" : "p" + std::to_string(partition) + "k" + std::to_string(i % 50);
    p.Send(topic_, key, Message(key, i, true), partition);
    sent[key].push_back(i);
  }
  p.Flush();
  BridgeProcess bridge(Config(R"(, "max_in_flight": 30, "max_buffered_messages": 60,
      "max_connections": 30)"), dir_ + "/bridge.log");
  // The many-key partitions are through while the one-key partition is not.
  size_t others = 0, slow = 0;
  for (int i = 0; i < 1200 && others < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::set<std::pair<std::string, int>> seen;
    for (const Record& r : Delivered(record_)) seen.insert({r.key, r.seq});
    others = slow = 0;
    for (const auto& [key, seq] : seen) ++(key == "slow" ? slow : others);
  }
  EXPECT_EQ(others, 300u) << Tail(dir_ + "/bridge.log");
  EXPECT_LT(slow, 150u) << "the one-key partition finished first: nothing to show";
  ASSERT_TRUE(WaitDelivered(450, 120000)) << Tail(dir_ + "/bridge.log");
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory(sent);
  // Partitions pause and resume each on their own: while partition 0 stays
  // paused, the others are resumed (with one shared pause they would all
  // resume together, when partition 0 had drained).
  std::istringstream log(ReadFile(dir_ + "/bridge.log"));
  bool held = false;
  int pauses = 0, others_resumed_meanwhile = 0;
  for (std::string line; std::getline(log, line);) {
    bool paused = line.find("\"event\":\"paused\"") != std::string::npos;
    bool resumed = line.find("\"event\":\"resumed\"") != std::string::npos;
    if (!paused && !resumed) continue;
    bool zero = line.find("\"partition\":0,") != std::string::npos;
    if (zero) {
      held = paused;
      pauses += paused ? 1 : 0;
    } else if (resumed && held) {
      ++others_resumed_meanwhile;
    }
  }
  EXPECT_GT(pauses, 0) << "the one-key partition never filled its share";
  EXPECT_GT(others_resumed_meanwhile, 0) << Tail(dir_ + "/bridge.log");
  std::cout << "delivered from the many-key partitions first: " << others
            << ", from the one-key partition by then: " << slow << "; partition 0 paused "
            << pauses << " times, others resumed meanwhile " << others_resumed_meanwhile << "\n";
}

TEST(BridgeConfig, CheckReportsTheKey) {
  std::string dir = testing::NewTempDir("bridgecfg");
  WriteFile(dir + "/c.json", "{\"kafka\": {\"bootstrap.servers\": \"x\"}}");
  auto r = RunCommand(Runfile("kafka_bridge/dipgate-bridge") + " --config " + dir + "/c.json --check");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config: kafka.group.id: is required"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dipgate
