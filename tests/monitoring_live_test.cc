// The monitoring, live (issue 24, "Tests"): Debian's real Prometheus
// (/usr/bin/prometheus, deploy/setup.sh), started by this test on its own
// port and data directory, scrapes every second the Kafka bridge
// (metrics_listen, job "dipgate-bridge") and nginx (dip_metrics, job
// "dipgate-nginx") and evaluates the repository's alert rules
// (deploy/prometheus/dipgate-rules.yml) every second, during a short
// end-to-end flow:
//   - outbound: Kafka -> the bridge -> the DIP sandbox, in batches, with one
//     schema-invalid record (a dead letter, never sent) and the DIP answering
//     503, 429 and 401 once each (retried; the secondary API key);
//   - inbound: webhooks signed as the DIP signs them -> nginx dip_verify ->
//     the bridge's inbound listener -> Kafka: accepted ones, tampered ones
//     and replays (refused by nginx), one schema-invalid caught by nginx's
//     dip_verify_schemas and one by the bridge;
//   - nginx dip_sign with an identity whose certificate (made here with the
//     openssl CLI from the test PKI's issuing CA) expires in 3 days.
// Then, through Prometheus's HTTP API: every expression of the Grafana
// dashboard (deploy/grafana/dipgate.json) returns a non-empty vector of
// numbers (no NaN: a latency quantile needs latencies in its window); every
// rule of the rules file is loaded, evaluates with health "ok" and no
// lastError, and every series selector it uses returns data from this run;
// DipgateCertificateExpiresIn7Days fires for the short-lived signing
// identity (and DipgateCertificateExpiresIn30Days does not).
//
// $__rate_interval: Grafana would make it 4 scrape intervals (4 s) on a
// range query; this test asks instant queries at the end of the run, so the
// window must cover the whole flow: 1m (the run from Prometheus's start to
// the queries is well under a minute).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/dip/message.h"
#include "tests/kafka_fixture.h"
#include "tests/nginx_fixture.h"

namespace dipgate {
namespace {

using testing::BridgeProcess;
using testing::Curl;
using testing::HttpResult;
using testing::Ingress;
using testing::PkiFile;
using testing::Producer;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::ShellQuote;
using testing::Tail;
using testing::WaitFor;
using testing::WriteFile;

// What stands for Grafana's variables in the dashboard's expressions (see
// the comment at the top).
const std::vector<std::pair<std::string, std::string>> kGrafanaVariables = {
    {"$__rate_interval", "1m"}, {"$__interval", "1s"}, {"$__range", "1m"}};

// Dashboard expressions that may return no data in this run, each with why.
// Empty: the flow gives every one of them data. Anything added here is
// reported by the test, never skipped silently.
const std::map<std::string, std::string> kNoDataExpected = {};

const char kRecipient[] = "0140321855";
const char kShortIdentity[] = "short-lived";

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

// ---- the messages

// Outbound: the public IF-033 sample with its senderUniqueReference
// carrying key and sequence, and an MPAN per key.
std::string Outbound(const std::string& key, int seq) {
  return testing::SampleRecord("live", key, seq, /*wrapped=*/true);
}

// Inbound: the sample as the DIP delivers it (its D0 block, transactionID
// `txid`), message `i` with its own reference and MPANCore, as an array.
std::string Inbound(int i, const std::string& txid) {
  return "[" + testing::SampleEgress("mon", i, 2000000, /*d0=*/true, txid) + "]";
}

// ---- Prometheus

// Debian's prometheus server on its own port and data directory; stopped
// (SIGTERM, then SIGKILL) when destroyed.
class PrometheusServer {
 public:
  explicit PrometheusServer(std::string dir) : dir_(std::move(dir)) {}
  ~PrometheusServer() { Stop(); }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Starts it with `config` (prometheus.yml); true once /-/ready answers
  // 200. A port taken between FreePort() and the bind is tried again on a
  // new one (3 tries); `why` says what went wrong otherwise.
  bool Start(const std::string& config, std::string* why) {
    std::string config_file = dir_ + "/prometheus.yml";
    WriteFile(config_file, config);
    log_ = dir_ + "/prometheus.log";
    for (int attempt = 1; attempt <= 3; ++attempt) {
      port_ = testing::FreePort();
      std::string data = dir_ + "/data-" + std::to_string(attempt);
      mkdir(data.c_str(), 0700);
      std::vector<std::string> args = {
          "/usr/bin/prometheus",
          "--config.file=" + config_file,
          "--storage.tsdb.path=" + data,
          "--web.listen-address=127.0.0.1:" + std::to_string(port_),
          "--web.console.templates=" + dir_,
          "--web.console.libraries=" + dir_,
          "--log.level=info"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      pid_ = fork();
      if (pid_ == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv.data());
        _exit(127);
      }
      close(fd);
      bool exited = false;
      bool ready = WaitFor(
          [&] {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
              exited = true;
              pid_ = -1;
              return true;
            }
            return Curl(Url("/-/ready")).status == 200;
          },
          30000);
      if (ready && !exited) return true;
      if (!exited) {
        *why = "not ready in 30 s: " + Tail(log_);
        return false;
      }
      *why = "exited at start (try " + std::to_string(attempt) + "): " + Tail(log_);
      std::cerr << *why << "\n";
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    bool gone = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 10000);
    if (!gone) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  const std::string& log() const { return log_; }

  // GET `path` (with curl's `args`, e.g. --data-urlencode) and its JSON;
  // `raw` is the answer as it came.
  bool Get(const std::string& path, const std::string& args, rapidjson::Document* doc,
           std::string* raw) {
    HttpResult r = Curl("-G " + args + " " + Url(path));
    *raw = "HTTP " + std::to_string(r.status) + ": " + r.body;
    doc->Parse(r.body.c_str());
    return !doc->HasParseError() && doc->IsObject();
  }

  // An instant query; `raw` is Prometheus's answer.
  bool Query(const std::string& expr, rapidjson::Document* doc, std::string* raw) {
    return Get("/api/v1/query", "--data-urlencode " + ShellQuote("query=" + expr), doc, raw) &&
           doc->HasMember("status");
  }

  // The value of a query returning one sample; NaN otherwise.
  double Scalar(const std::string& expr) {
    rapidjson::Document d;
    std::string raw;
    if (!Query(expr, &d, &raw) || std::string(d["status"].GetString()) != "success") return NAN;
    const auto& result = d["data"]["result"];
    if (!result.IsArray() || result.Size() != 1) return NAN;
    return strtod(result[0]["value"][1].GetString(), nullptr);
  }

 private:
  std::string dir_, log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// ---- what the dashboard and the rules file hold

struct DashboardQuery {
  std::string where;  // panel id, title and refId
  std::string expr;   // as in the dashboard
  std::string query;  // with the Grafana variables replaced
};

// Every target's expression of every panel (and of every panel of a
// collapsed row) of the dashboard.
std::vector<DashboardQuery> DashboardQueries(const std::string& path) {
  rapidjson::Document d;
  d.Parse(ReadFile(path).c_str());
  std::vector<DashboardQuery> out;
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("panels")) {
    ADD_FAILURE() << path << ": not a dashboard JSON model";
    return out;
  }
  std::vector<const rapidjson::Value*> panels;
  for (const auto& p : d["panels"].GetArray()) {
    panels.push_back(&p);
    if (p.HasMember("panels")) {
      for (const auto& inner : p["panels"].GetArray()) panels.push_back(&inner);
    }
  }
  for (const rapidjson::Value* p : panels) {
    if (!p->HasMember("targets")) continue;
    for (const auto& t : (*p)["targets"].GetArray()) {
      if (!t.HasMember("expr") || !t["expr"].IsString()) continue;
      DashboardQuery q;
      q.where = "panel " + std::to_string((*p)["id"].GetInt()) + " \"" +
                (*p)["title"].GetString() + "\" query " +
                (t.HasMember("refId") ? t["refId"].GetString() : "?");
      q.expr = t["expr"].GetString();
      q.query = q.expr;
      for (const auto& [variable, value] : kGrafanaVariables) {
        for (size_t at = 0; (at = q.query.find(variable, at)) != std::string::npos;) {
          q.query.replace(at, variable.size(), value);
        }
      }
      out.push_back(q);
    }
  }
  return out;
}

// The alert names of the rules file, in order ("- alert: NAME" lines).
std::vector<std::string> AlertNames(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(ReadFile(path));
  static const std::regex alert(R"(^\s*-\s*alert:\s*([A-Za-z0-9_]+)\s*$)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, alert)) out.push_back(m[1]);
  }
  return out;
}

// The series selectors of an expression: `up` and dipgate_* metrics with
// their label matchers, if any.
std::set<std::string> Selectors(const std::string& expr) {
  static const std::regex selector(R"(\b(up|dipgate_[a-z0-9_]+)\b(\{[^}]*\})?)");
  std::set<std::string> out;
  for (std::sregex_iterator it(expr.begin(), expr.end(), selector), end; it != end; ++it) {
    out.insert(it->str());
  }
  return out;
}

// ---- the test

class MonitoringLiveTest : public testing::KafkaTest {
 protected:
  void SetUp() override {
    start_ = std::chrono::steady_clock::now();
    dir_ = testing::NewTempDir("monitoring");
    topic_ = "dip-out-monitoring";
    schemas_ = Runfile("third_party/dip_api/schemas");
    MakeShortLivedIdentity();
    if (HasFatalFailure()) return;

    // The DIP sandbox over mutual TLS; its first three answers scripted:
    // 503 and 429 (retried), 401 (the secondary API key).
    WriteFile(dir_ + "/behaviour", "503 1\n429 1\n401 1\n");
    sandbox_ = std::make_unique<Ingress>(
        true, true, false,
        std::vector<std::string>{"--behaviour-file", dir_ + "/behaviour", "--record",
                                 dir_ + "/delivered.jsonl", "--outcomes", dir_ + "/outcomes.jsonl",
                                 "--api-key", "primary-key", "--api-key", "secondary-key"});
    echo_ = std::make_unique<Ingress>(false, false, true);  // dip_sign's upstream

    // One bridge both ways: outbound (batches, schemas, dead letters) and
    // inbound (the listener behind nginx).
    listen_port_ = testing::FreePort();
    bridge_metrics_port_ = testing::FreePort();
    WriteFile(dir_ + "/bridge.json", R"({
  "kafka": {"bootstrap.servers": ")" + broker_->bootstrap() + R"(", "group.id": "monitoring",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
            "topic.metadata.refresh.interval.ms": 1000},
  "identities": [{"name": "mp", "certificate": ")" + PkiFile("signer-rsa.pem") + R"(",
                  "key": ")" + PkiFile("signer-rsa.key") + R"(", "dip_ids": ["8795183096"]}],
  "dip_base_url": "https://localhost:)" + std::to_string(sandbox_->port()) + R"(",
  "routes": [{"topic": ")" + topic_ + R"("}],
  "tls": {"client_certificate": ")" + PkiFile("tls-client.pem") + R"(",
          "client_key": ")" + PkiFile("tls-client.key") + R"(", "ca": ")" + PkiFile("ca-bundle.pem") + R"("},
  "api_key": {"primary": "primary-key", "secondary": "secondary-key"},
  "dead_letter_topic": ")" + topic_ + R"(-dlq",
  "schemas": ")" + schemas_ + R"(",
  "batch": {"max_messages": 5, "linger_ms": 200},
  "retry": {"initial_backoff_ms": 50, "max_backoff_ms": 400},
  "timeouts": {"connect_ms": 2000, "request_ms": 1500},
  "max_in_flight": 8,
  "max_buffered_messages": 50,
  "shutdown_timeout_ms": 5000,
  "inbound": {"listen": "127.0.0.1:)" + std::to_string(listen_port_) + R"(",
              "topic": "dip-in-monitoring-{interfaceID}", "participant_id": ")" + kRecipient + R"(",
              "schemas": ")" + schemas_ + R"(", "produce_timeout_ms": 3000, "retry_after_s": 1},
  "metrics_listen": "127.0.0.1:)" + std::to_string(bridge_metrics_port_) + R"("
}
)");
    bridge_ = std::make_unique<BridgeProcess>(dir_ + "/bridge.json", dir_ + "/bridge.log");
    ASSERT_TRUE(WaitFor([&] { return BridgeMetric("dipgate_bridge_healthy") == 1 &&
                                     ReadFile(dir_ + "/bridge.log").find("inbound_listening") !=
                                         std::string::npos; },
                        20000))
        << Tail(dir_ + "/bridge.log");

    // nginx: webhooks verified into the bridge (one location with the DIP's
    // schemas, one without), dip_sign with the short-lived identity, and
    // the metrics.
    nginx_port_ = testing::FreePort();
    auto webhooks = [&](const std::string& location, const std::string& extra) {
      return "    location " + location + " {\n" + testing::DipVerifyTrust() +
             "      dip_verify_environment nonprod;\n"
             "      dip_verify_replay dipreplay;\n" + extra +
             "      proxy_set_header X-DIP-Verified $dip_verify_status;\n"
             "      proxy_set_header X-DIP-Signer $dip_signer_subject;\n"
             "      proxy_pass http://127.0.0.1:" + std::to_string(listen_port_) + ";\n"
             "    }\n";
    };
    nginx_ = std::make_unique<testing::Nginx>(
        "  dip_metrics_zone dipmetrics:1m;\n"
        "  dip_verify_replay_zone dipreplay:1m;\n"
        "  dip_sign_identity " + std::string(kShortIdentity) + " certificate=" + dir_ +
        "/short.pem key=" + dir_ + "/short.key;\n"
        "  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port_) + ";\n" +
        webhooks("/dip/webhook/", "") +
        webhooks("/dip/checked/", "      dip_verify_schemas " + schemas_ + ";\n") +
        "    location /out/ {\n      dip_sign " + kShortIdentity + ";\n"
        "      proxy_pass http://127.0.0.1:" + std::to_string(echo_->port()) + "/;\n    }\n"
        "    location = /metrics {\n      dip_metrics;\n    }\n"
        "  }\n");
    ASSERT_TRUE(nginx_->started()) << nginx_->start_output();
    // Said at start (on stderr: the error_log is not open while parsing).
    EXPECT_NE((nginx_->start_output() + nginx_->ErrorLog())
                  .find("\"dip_sign_identity\" \"" + std::string(kShortIdentity) +
                        "\": certificate expires in 2 days; renew it"),
              std::string::npos)
        << nginx_->start_output() << nginx_->ErrorLog();

    // Prometheus: both jobs every second, the rules every second.
    prometheus_ = std::make_unique<PrometheusServer>(testing::NewTempDir("prometheus"));
    std::string why;
    ASSERT_TRUE(prometheus_->Start(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "rule_files:\n"
        "  - " + Runfile("deploy/prometheus/dipgate-rules.yml") + "\n"
        "scrape_configs:\n"
        "  - job_name: dipgate-bridge\n"
        "    static_configs:\n"
        "      - targets: ['127.0.0.1:" + std::to_string(bridge_metrics_port_) + "']\n"
        "  - job_name: dipgate-nginx\n"
        "    static_configs:\n"
        "      - targets: ['127.0.0.1:" + std::to_string(nginx_port_) + "']\n",
        &why))
        << why;
    // Both targets scraped (up 1) before anything happens: every counter's
    // first sample is its value before the flow.
    ASSERT_TRUE(WaitFor([&] { return prometheus_->Scalar("count(up == 1)") == 2; }, 20000))
        << TargetsAnswer() << Tail(prometheus_->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    std::cout << "set up (broker excluded) in " << Seconds(start_) << " s\n";
  }

  // The fixture's destructor stops Prometheus, nginx, the bridge and the
  // two sandboxes (members, in reverse order), pass or fail; the broker
  // goes with the suite.

  // A short-lived signing certificate: P-256, from the test PKI's issuing
  // CA with the openssl CLI, valid 3 days.
  void MakeShortLivedIdentity() {
    WriteFile(dir_ + "/short.ext",
              "basicConstraints = critical, CA:FALSE\n"
              "keyUsage = critical, digitalSignature\n"
              "subjectKeyIdentifier = hash\n"
              "authorityKeyIdentifier = keyid\n");
    std::string d = dir_;
    auto r = RunCommand(
        "set -e; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + d +
        "/short.key && chmod 600 " + d + "/short.key && openssl req -new -key " + d +
        "/short.key -subj '/CN=energydip-nonprod.example.co.uk/O=Example Energy Ltd' -out " + d +
        "/short.csr && openssl x509 -req -in " + d + "/short.csr -CA " +
        PkiFile("issuing-ca.pem") + " -CAkey " + PkiFile("issuing-ca.key") + " -set_serial 0x" +
        std::to_string(100000 + getpid()) + " -days 3 -sha256 -extfile " + d +
        "/short.ext -out " + d + "/short.pem 2>&1 && openssl x509 -noout -enddate -in " + d +
        "/short.pem");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::cout << "short-lived signing certificate: " << r.output;
  }

  int64_t BridgeMetric(const std::string& name) {
    std::string m =
        Curl("http://127.0.0.1:" + std::to_string(bridge_metrics_port_) + "/metrics").body;
    size_t at = m.find("\n" + name + " ");
    return at == std::string::npos ? -1 : atoll(m.c_str() + at + name.size() + 2);
  }

  std::string TargetsAnswer() {
    rapidjson::Document d;
    std::string raw;
    prometheus_->Get("/api/v1/targets", "", &d, &raw);
    return raw + "\n";
  }

  // Signs `body` for nginx's `path` as the DIP does (dipctl, the PKI's EC
  // signer) and POSTs it there; `send` (when given) is sent instead of the
  // signed body (a tampered copy).
  HttpResult Webhook(const std::string& path, const std::string& body,
                     const std::string& send = "") {
    std::string url = "http://127.0.0.1:" + std::to_string(nginx_port_) + path;
    WriteFile(dir_ + "/signed.json", body);
    auto s = RunCommand(Runfile("cli/dipctl") + " sign --cert " + PkiFile("signer-ec.pem") +
                        " --key " + PkiFile("signer-ec.key") + " --url " + url + " --body " +
                        dir_ + "/signed.json");
    EXPECT_EQ(s.exit_code, 0) << s.output;
    WriteFile(dir_ + "/headers", s.output);
    return Post(url, send.empty() ? body : send);
  }

  // POSTs `body` with the headers of the last Webhook().
  HttpResult Post(const std::string& url, const std::string& body) {
    WriteFile(dir_ + "/send.json", body);
    return Curl("-X POST -H @" + dir_ + "/headers -H 'Content-Type: application/json' "
                "--data-binary @" + dir_ + "/send.json " + url);
  }

  std::chrono::steady_clock::time_point start_;
  std::string dir_, topic_, schemas_;
  int listen_port_ = 0, bridge_metrics_port_ = 0, nginx_port_ = 0;
  // Destroyed in reverse: Prometheus first, the DIP sandbox last.
  std::unique_ptr<Ingress> sandbox_;
  std::unique_ptr<Ingress> echo_;
  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<testing::Nginx> nginx_;
  std::unique_ptr<PrometheusServer> prometheus_;
};

TEST_F(MonitoringLiveTest, DashboardAndRulesHaveDataAndTheShortLivedCertificateAlertFires) {
  auto flow_start = std::chrono::steady_clock::now();

  // ---- outbound: 12 records on one partition (batched up to 5), number 7
  // schema-invalid (MPANCore of 2 digits): dead-lettered by the bridge,
  // never sent; the DIP's scripted 503, 429 and 401 on the first POSTs.
  const int outbound = 12, poison = 7;
  {
    Producer p(broker_->bootstrap());
    for (int i = 0; i < outbound; ++i) {
      std::string key = "k" + std::to_string(i);
      std::string value = Outbound(key, i);
      if (i == poison) value.replace(value.find("\"MPANCore\":\"") + 12, 13, "12");
      p.Send(topic_, key, value, 0);
    }
    p.Flush();
  }

  // ---- inbound through nginx: 6 accepted (201 from the bridge), 2 of them
  // replayed and 3 tampered (401 from nginx), one schema-invalid caught by
  // nginx's dip_verify_schemas (400), one by the bridge (400), one more
  // accepted through the schema-checking location.
  const std::string hook = "/dip/webhook/if-033", checked = "/dip/checked/if-033";
  auto txid = [](int i) { return "T-IF-033-0140321855-SDS-20261201-M" + std::to_string(i); };
  for (int i = 0; i < 6; ++i) {
    std::string body = Inbound(i, txid(i));
    HttpResult r = Webhook(hook, body);
    EXPECT_EQ(r.status, 201) << i << ": " << r.raw << Tail(dir_ + "/bridge.log");
    std::string url = "http://127.0.0.1:" + std::to_string(nginx_port_) + hook;
    if (i < 2) EXPECT_EQ(Post(url, body).status, 401) << "replay " << i;
    if (i < 3) {
      std::string tampered = body;
      tampered[tampered.find("SW1A")] = 'X';
      EXPECT_EQ(Post(url, tampered).status, 401) << "tampered " << i;
    }
  }
  auto invalid = [&](int i) {
    std::string bad = Inbound(i, txid(i));
    bad.replace(bad.find("\"MPANCore\":\"") + 12, 1, "x");
    return bad;
  };
  HttpResult at_nginx = Webhook(checked, invalid(10));
  EXPECT_EQ(at_nginx.status, 400) << at_nginx.raw;
  HttpResult at_bridge = Webhook(hook, invalid(11));
  EXPECT_EQ(at_bridge.status, 400) << at_bridge.raw;
  EXPECT_NE(at_bridge.body.find("RCP1001"), std::string::npos) << at_bridge.raw;
  HttpResult checked_ok = Webhook(checked, Inbound(12, txid(12)));
  EXPECT_EQ(checked_ok.status, 201) << checked_ok.raw;

  // ---- dip_sign with the short-lived identity: 5 requests signed.
  for (int i = 0; i < 5; ++i) {
    HttpResult r = Curl("-X POST --data-binary '{}' http://127.0.0.1:" +
                        std::to_string(nginx_port_) + "/out/signed");
    EXPECT_EQ(r.status, 200) << r.raw;
  }

  // ---- the outbound flow done: 11 delivered, 1 dead letter.
  ASSERT_TRUE(WaitFor([&] { return BridgeMetric("dipgate_bridge_delivered_total") >= outbound - 1 &&
                                   BridgeMetric("dipgate_bridge_dead_lettered_total") >= 1; },
                      40000))
      << Tail(dir_ + "/bridge.log") << ReadFile(dir_ + "/outcomes.jsonl");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last answers counted
  EXPECT_EQ(BridgeMetric("dipgate_bridge_delivered_total"), outbound - 1);
  EXPECT_EQ(BridgeMetric("dipgate_bridge_dead_lettered_total"), 1);
  EXPECT_GE(BridgeMetric("dipgate_bridge_retried_total"), 2);
  EXPECT_EQ(BridgeMetric("dipgate_bridge_api_key_fallbacks_total"), 1);
  EXPECT_EQ(BridgeMetric("dipgate_bridge_webhooks_accepted_total"), 7);
  EXPECT_EQ(BridgeMetric("dipgate_bridge_webhooks_refused_total"), 1);
  double flow_end = static_cast<double>(WallClockMillis()) / 1000.0;
  std::cout << "flow done in " << Seconds(flow_start) << " s\n";

  // ---- Prometheus has scraped both targets twice since: a series born
  // during the flow (a label value's first count) has the two samples a
  // rate() needs.
  ASSERT_TRUE(WaitFor([&] { return prometheus_->Scalar("min(timestamp(up))") > flow_end + 2.05; },
                      15000))
      << TargetsAnswer();
  EXPECT_EQ(prometheus_->Scalar("sum(dipgate_bridge_delivered_total)"), outbound - 1);
  EXPECT_EQ(prometheus_->Scalar("sum(dipgate_nginx_sign_total{reason=\"ok\"})"), 5);

  // ---- (a) every expression of the dashboard: a non-empty vector of numbers.
  std::vector<DashboardQuery> dashboard = DashboardQueries(Runfile("deploy/grafana/dipgate.json"));
  EXPECT_GE(dashboard.size(), 20u) << "the dashboard's expressions were not found";
  int dashboard_ok = 0;
  for (const DashboardQuery& q : dashboard) {
    SCOPED_TRACE(q.where + ": " + q.expr);
    EXPECT_EQ(q.query.find('$'), std::string::npos) << "an unknown Grafana variable: " << q.query;
    rapidjson::Document d;
    std::string raw;
    ASSERT_TRUE(prometheus_->Query(q.query, &d, &raw)) << raw;
    auto no_data = kNoDataExpected.find(q.expr);
    bool good = std::string(d["status"].GetString()) == "success" &&
                std::string(d["data"]["resultType"].GetString()) == "vector" &&
                d["data"]["result"].Size() > 0;
    std::string values;
    if (good) {
      for (const auto& s : d["data"]["result"].GetArray()) {
        const char* v = s["value"][1].GetString();
        values += std::string(values.empty() ? "" : ", ") + v;
        if (!std::isfinite(strtod(v, nullptr))) good = false;
      }
    }
    if (no_data != kNoDataExpected.end()) {
      std::cout << "NO DATA EXPECTED (" << no_data->second << "): " << q.where << ": " << q.expr
                << " -> " << raw << "\n";
      continue;
    }
    EXPECT_TRUE(good) << "no data (or not a number) for " << q.where << "\n  expression: "
                      << q.expr << "\n  queried as: " << q.query << "\n  Prometheus: " << raw;
    if (good) ++dashboard_ok;
    std::cout << "dashboard " << q.where << ": " << q.query << " -> [" << values << "]\n";
  }
  std::cout << dashboard_ok << " of " << dashboard.size() << " dashboard expressions have data\n";

  // What the counters whose label values appear only with their first count
  // show to increase() over the run, beside what happened (the unlabelled
  // totals that exist at 0 from the start, or the requests sent): the
  // bridge's dead letters by reason, webhooks not accepted by reason, the
  // DIP's answers by status, and nginx's dip_sign by identity (a slot made
  // at the identity's first request). A first count is not seen by rate()
  // or increase(), so the product shows every known label value at 0 from
  // the start (reasons, usual statuses, configured identities): each sum
  // of increases must see what happened.
  for (const auto& [labelled, happened] : std::vector<std::pair<std::string, std::string>>{
           {"dipgate_bridge_dead_letters_total", "sum(increase(dipgate_bridge_dead_lettered_total[1m]))"},
           {"dipgate_bridge_webhooks_not_accepted_total",
            "sum(increase(dipgate_bridge_webhooks_refused_total[1m]))"},
           {"dipgate_bridge_dip_answers_total", "sum(increase(dipgate_bridge_posts_total[1m]))"},
           {"dipgate_nginx_sign_total", "vector(5)"}}) {
    double by_label = prometheus_->Scalar("sum(increase(" + labelled + "[1m]))");
    double all = prometheus_->Scalar(happened);
    double now_by_label = prometheus_->Scalar("sum(" + labelled + ")");
    EXPECT_GE(by_label, all - 0.5) << labelled << ": first counts not seen by increase()";
    std::cout << "sum(increase(" << labelled << "[1m])) = " << by_label << " (the counters now: "
              << now_by_label << "); what happened: " << happened << " = " << all << "\n";
  }

  // ---- (b) every rule of the rules file: loaded, evaluated without error;
  // its expression answers; every series it selects has data.
  std::vector<std::string> alerts = AlertNames(Runfile("deploy/prometheus/dipgate-rules.yml"));
  EXPECT_GE(alerts.size(), 10u) << "the rules file's alerts were not found";
  rapidjson::Document rules;
  std::string rules_raw;
  // Each rule evaluated at least once (health "unknown" before).
  ASSERT_TRUE(WaitFor([&] {
    if (!prometheus_->Get("/api/v1/rules", "", &rules, &rules_raw)) return false;
    for (const auto& g : rules["data"]["groups"].GetArray()) {
      for (const auto& r : g["rules"].GetArray()) {
        if (std::string(r["health"].GetString()) == "unknown") return false;
      }
    }
    return true;
  }, 10000)) << rules_raw;
  std::set<std::string> loaded;
  std::map<std::string, double> durations;
  for (const auto& g : rules["data"]["groups"].GetArray()) {
    for (const auto& r : g["rules"].GetArray()) {
      std::string name = r["name"].GetString(), query = r["query"].GetString();
      SCOPED_TRACE("rule " + name + ": " + query);
      loaded.insert(name);
      if (r.HasMember("duration")) durations[name] = r["duration"].GetDouble();
      EXPECT_EQ(std::string(r["health"].GetString()), "ok") << ToJson(r);
      std::string last_error = r.HasMember("lastError") ? r["lastError"].GetString() : "";
      EXPECT_EQ(last_error, "") << ToJson(r);
      rapidjson::Document d;
      std::string raw;
      ASSERT_TRUE(prometheus_->Query(query, &d, &raw)) << raw;
      EXPECT_EQ(std::string(d["status"].GetString()), "success") << raw;
      std::cout << "rule " << name << ": health " << r["health"].GetString() << ", state "
                << (r.HasMember("state") ? r["state"].GetString() : "-") << ", "
                << (d["status"] == "success" ? d["data"]["result"].Size() : 0)
                << " series now\n";
      for (const std::string& selector : Selectors(query)) {
        rapidjson::Document s;
        std::string sraw;
        ASSERT_TRUE(prometheus_->Query(selector, &s, &sraw)) << sraw;
        bool data = std::string(s["status"].GetString()) == "success" &&
                    s["data"]["result"].Size() > 0;
        EXPECT_TRUE(data) << "rule " << name << ": no data for its selector " << selector
                          << "\n  Prometheus: " << sraw;
        std::cout << "  " << selector << ": " << (data ? s["data"]["result"].Size() : 0)
                  << " series\n";
      }
    }
  }
  EXPECT_EQ(loaded, std::set<std::string>(alerts.begin(), alerts.end())) << rules_raw;

  // ---- (c) the short-lived signing certificate: DipgateCertificateExpiresIn7Days
  // firing for it (the rule has no `for`: firing at its first evaluation;
  // with one, it would be pending that long).
  const std::string seven = "DipgateCertificateExpiresIn7Days";
  ASSERT_TRUE(durations.count(seven)) << rules_raw;
  double hold = durations[seven];
  ASSERT_LE(hold, 45) << seven << " has `for: " << hold << "s`: longer than this test may wait";
  std::string state, value, alerts_raw;
  bool firing = WaitFor([&] {
    rapidjson::Document d;
    if (!prometheus_->Get("/api/v1/alerts", "", &d, &alerts_raw)) return false;
    for (const auto& a : d["data"]["alerts"].GetArray()) {
      const auto& l = a["labels"];
      if (std::string(l["alertname"].GetString()) != seven || !l.HasMember("role") ||
          std::string(l["role"].GetString()) != "signing" ||
          std::string(l["name"].GetString()) != kShortIdentity) {
        continue;
      }
      state = a["state"].GetString();
      value = a["value"].GetString();
      return state == "firing";
    }
    return false;
  }, static_cast<int>((hold + 15) * 1000));
  EXPECT_TRUE(firing) << seven << " for " << kShortIdentity << ": state '" << state
                      << "' (for: " << hold << " s)\n" << alerts_raw;
  double days = strtod(value.c_str(), nullptr);
  EXPECT_GT(days, 2.5) << alerts_raw;
  EXPECT_LE(days, 3.01) << alerts_raw;
  std::cout << seven << " " << state << " for role=signing name=" << kShortIdentity << ": "
            << value << " days\n";
  // Not also the 30-day warning, and the PKI's other certificates in neither.
  rapidjson::Document all;
  ASSERT_TRUE(prometheus_->Get("/api/v1/alerts", "", &all, &alerts_raw));
  for (const auto& a : all["data"]["alerts"].GetArray()) {
    const auto& l = a["labels"];
    std::string name = l["alertname"].GetString();
    std::string who = l.HasMember("name") ? l["name"].GetString() : "";
    std::cout << "alert " << name << " " << a["state"].GetString() << " "
              << ToJson(a["labels"]) << "\n";
    if (name.rfind("DipgateCertificateExpiresIn", 0) == 0) {
      EXPECT_TRUE(name == seven && who == kShortIdentity) << ToJson(a);
    }
  }

  EXPECT_EQ(bridge_->Stop(SIGTERM), 0) << Tail(dir_ + "/bridge.log");
  std::cout << "test body " << Seconds(flow_start) << " s, with set-up " << Seconds(start_)
            << " s\n";
}

}  // namespace
}  // namespace dipgate
