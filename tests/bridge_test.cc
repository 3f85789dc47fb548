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

using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;
using testing::Broker;
using testing::BridgeProcess;
using testing::ReadTopic;
using testing::Tail;


std::string Message(const std::string& key, int seq, bool wrapped) {
  std::string inner = "{\"CommonBlock\":{\"S0\":{\"interfaceID\":\"IF-033\",\"schemaVersion\":\"011\"},"
                      "\"S1\":{\"senderDIPID\":\"8795183096\",\"senderUniqueReference\":\"" +
                      key + "-" + std::to_string(seq) +
                      "\"}},\"CustomBlock\":{\"key\":\"" + key + "\",\"seq\":" +
                      std::to_string(seq) + "}}";
  return wrapped ? "[{\"payload\":" + inner + "}]" : inner;
}

class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", bootstrap, err);
    conf->set("enable.idempotence", "true", err);
    p_.reset(RdKafka::Producer::create(conf.get(), err));
  }
  void Send(const std::string& topic, const std::string& key, const std::string& value) {
    for (;;) {
      auto rc = p_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            const_cast<char*>(value.data()), value.size(), key.data(), key.size(),
                            0, nullptr, nullptr);
      if (rc != RdKafka::ERR__QUEUE_FULL) break;
      p_->poll(10);
    }
    p_->poll(0);
  }
  void Flush() { ASSERT_EQ(p_->flush(30000), RdKafka::ERR_NO_ERROR); }

 private:
  std::unique_ptr<RdKafka::Producer> p_;
};


struct Record {
  std::string key;
  int seq;
  bool verified;
  std::string api_key;
  std::string cert;
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
    const rapidjson::Value* msg = &body;
    if (body.IsArray()) msg = &body[0]["payload"];
    const auto& custom = (*msg)["CustomBlock"];
    out.push_back({custom["key"].GetString(), custom["seq"].GetInt(), d["verified"].GetBool(),
                   d["api_key"].IsString() ? d["api_key"].GetString() : "",
                   d["cert_sha256"].GetString()});
  }
  return out;
}

class BridgeTest : public testing::KafkaTest {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("bridge");
    behaviour_ = dir_ + "/behaviour";
    record_ = dir_ + "/delivered.jsonl";
    WriteFile(behaviour_, "");
    ingress_ = std::make_unique<testing::Ingress>(
        true, true, false, std::vector<std::string>{"--behaviour-file", behaviour_, "--record", record_});
    topic_ = "dip-out-" + std::to_string(++counter_);
    dlq_ = topic_ + "-dlq";
    metrics_port_ = testing::FreePort();
  }

  std::string Config(const std::string& extra = "") {
    std::string path = dir_ + "/bridge-" + std::to_string(++configs_) + ".json";
    WriteFile(path, R"({
  "kafka": {"bootstrap.servers": ")" + broker_->bootstrap() + R"(", "group.id": ")" + topic_ +
                        R"(-group", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "topic.metadata.refresh.interval.ms": 1000},
  "identities": [{"name": "mp", "certificate": ")" + PkiFile("signer-rsa.pem") + R"(",
                  "key": ")" + PkiFile("signer-rsa.key") + R"(", "dip_ids": ["8795183096"]}],
  "routes": [{"topic": ")" + topic_ + R"(", "url": "https://localhost:)" +
                        std::to_string(ingress_->port()) + R"(/api/v1/{interfaceID}"}],
  "tls": {"client_certificate": ")" + PkiFile("tls-client.pem") + R"(",
          "client_key": ")" + PkiFile("tls-client.key") + R"(", "ca": ")" + PkiFile("ca-bundle.pem") + R"("},
  "api_key": {"primary": "primary-key", "secondary": "secondary-key"},
  "retry": {"initial_backoff_ms": 50, "max_backoff_ms": 400},
  "timeouts": {"connect_ms": 2000, "request_ms": 1500},
  "dead_letter_topic": ")" + dlq_ + R"(",
  "max_in_flight": 4,
  "max_buffered_messages": 50,
  "shutdown_timeout_ms": 5000,
  "metrics_listen": "127.0.0.1:)" + std::to_string(metrics_port_) + "\"" + extra + "\n}\n");
    return path;
  }

  // Produces `n` messages over `keys` keys, alternating the two envelope
  // shapes; returns key -> seqs in order.
  std::map<std::string, std::vector<int>> Produce(int n, int keys, int first = 0) {
    Producer p(broker_->bootstrap());
    std::map<std::string, std::vector<int>> sent;
    for (int i = first; i < first + n; ++i) {
      std::string key = "k" + std::to_string(i % keys);
      p.Send(topic_, key, Message(key, i, i % 2 == 0));
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

  // Every message delivered (or in `dead`), each verified by the
  // independent checker, first deliveries in per-key order.
  void CheckHistory(const std::map<std::string, std::vector<int>>& sent,
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
  }

  static int counter_;
  std::unique_ptr<testing::Ingress> ingress_;
  std::string dir_, behaviour_, record_, topic_, dlq_;
  int metrics_port_ = 0;
  int configs_ = 0;
};

int BridgeTest::counter_ = 0;

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
  EXPECT_EQ(testing::Curl("http://127.0.0.1:" + std::to_string(metrics_port_) + "/healthz").status, 200);
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  std::string log = ReadFile(dir_ + "/bridge.log");
  EXPECT_NE(log.find("\"event\":\"stopped\""), std::string::npos) << log.substr(0, 2000);
  CheckHistory(sent);
  for (const Record& r : Delivered(record_)) EXPECT_EQ(r.api_key, "primary-key");
  // Offsets were committed: a new bridge in the group delivers nothing again.
  size_t before = Delivered(record_).size();
  BridgeProcess again(Config(), dir_ + "/bridge2.log");
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_EQ(again.Stop(SIGTERM), 0);
  EXPECT_EQ(Delivered(record_).size(), before);
}

TEST_F(BridgeTest, EachFailureClass) {
  // Retried: 500, 503, 429 with Retry-After, a reset connection, a slow
  // answer past the request timeout (the DIP took it, the bridge could not
  // know: delivered again, a duplicate). Dead-lettered: 400. The primary key
  // refused (401) falls back to the secondary.
  WriteFile(behaviour_, "500 2\n503 1\n429 1\nreset 1\nslow 2500 1\n200 1\n400 1\n401 1\n");
  Producer p(broker_->bootstrap());
  p.Send(topic_, "k0", Message("k0", 0, false));  // 500,500,503,429,reset,slow,200
  p.Send(topic_, "k0", Message("k0", 1, false));  // 400 -> DLQ
  p.Send(topic_, "k0", Message("k0", 2, false));  // 401 -> secondary key -> 200
  p.Send(topic_, "k0", "{not json");              // invalid JSON -> DLQ
  p.Send(topic_, "k0", "{\"CommonBlock\":{}}");   // no envelope -> DLQ
  p.Send(topic_, "k0", Message("k0", 5, false));
  p.Flush();
  BridgeProcess bridge(Config(), dir_ + "/bridge.log");
  ASSERT_TRUE(WaitDelivered(3, 90000)) << Tail(dir_ + "/bridge.log");
  auto dead = ReadTopic(broker_->bootstrap(), dlq_, 3, 30000);
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  CheckHistory({{"k0", {0, 1, 2, 5}}}, {1});
  for (const Record& r : Delivered(record_)) {
    EXPECT_EQ(r.api_key, r.seq == 2 ? "secondary-key" : "primary-key") << r.seq;
  }
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0].headers["dip.errors.reason"], "http_400");
  EXPECT_EQ(dead[0].headers["dip.errors.http.status"], "400");
  EXPECT_NE(dead[0].headers["dip.errors.response.excerpt"].find("\"verified\": true"),
            std::string::npos);
  EXPECT_EQ(dead[0].headers["dip.errors.topic"], topic_);
  EXPECT_EQ(dead[0].headers["dip.errors.partition"].empty(), false);
  EXPECT_EQ(dead[0].headers["dip.errors.offset"], "1");
  EXPECT_EQ(dead[0].value, Message("k0", 1, false));
  EXPECT_EQ(dead[1].headers["dip.errors.reason"].rfind("invalid_json:", 0), 0u);
  EXPECT_EQ(dead[1].value, "{not json");
  EXPECT_EQ(dead[2].headers["dip.errors.reason"].rfind("missing_envelope:", 0), 0u);
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
      "  server {\n    listen 127.0.0.1:" + std::to_string(port) + " ssl http2;\n"
      "    ssl_certificate " + PkiFile("tls-server.pem") + ";\n"
      "    ssl_certificate_key " + PkiFile("tls-server.key") + ";\n"
      "    ssl_client_certificate " + PkiFile("ca-bundle.pem") + ";\n"
      "    ssl_verify_client on;\n"
      "    access_log $PREFIX/logs/dip.log dip;\n"
      "    location /api/ {\n" + testing::DipVerifyTrust() +
      "      dip_verify_environment nonprod;\n"
      "      proxy_pass http://127.0.0.1:" + std::to_string(back) + "/ok;\n    }\n  }\n"
      "  server {\n    listen 127.0.0.1:" + std::to_string(back) + ";\n"
      "    location /ok { return 200 \"ok\\n\"; }\n  }\n");
  ASSERT_TRUE(nginx.started()) << nginx.start_output();
  std::string config = Config();
  std::string text = ReadFile(config);
  std::string from = "localhost:" + std::to_string(ingress_->port());
  text.replace(text.find(from), from.size(), "localhost:" + std::to_string(port));
  WriteFile(config, text);
  Produce(20, 2);
  BridgeProcess bridge(config, dir_ + "/bridge.log");
  std::string log;
  for (int i = 0; i < 300; ++i) {
    log = ReadFile(nginx.prefix() + "/logs/dip.log");
    if (std::count(log.begin(), log.end(), '\n') >= 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(bridge.Stop(SIGTERM), 0);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 20) << log;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) EXPECT_EQ(line, "HTTP/2.0 ok 200");
}

TEST_F(BridgeTest, BackPressurePausesInsteadOfBuffering) {
  WriteFile(behaviour_, "slow 40 100000\n");
  auto sent = Produce(400, 4);
  std::string config = Config();
  std::string text = ReadFile(config);
  std::string from = "\"max_buffered_messages\": 50";
  text.replace(text.find(from), from.size(), "\"max_buffered_messages\": 20");
  WriteFile(config, text);
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

TEST(BridgeConfig, CheckReportsTheKey) {
  std::string dir = testing::NewTempDir("bridgecfg");
  WriteFile(dir + "/c.json", "{\"kafka\": {\"bootstrap.servers\": \"x\"}}");
  auto r = RunCommand(Runfile("kafka_bridge/dipgate-bridge") + " --config " + dir + "/c.json --check");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config: kafka.group.id: is required"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dipgate
