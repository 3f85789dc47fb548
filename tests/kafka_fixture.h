// A real Apache Kafka broker (KRaft, tests/kafka/kafka.sh), the bridge as
// a process, and reading what landed in a topic: shared by the bridge's
// outbound and inbound tests.
#ifndef DIPGATE_TESTS_KAFKA_FIXTURE_H_
#define DIPGATE_TESTS_KAFKA_FIXTURE_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/nginx_fixture.h"

namespace RdKafka {
class Producer;
}

namespace dipgate::testing {

class Broker {
 public:
  Broker() : dir_(NewTempDir("kafka")), port_(FreePort()) {}
  // FreePort's ports are free when it looks, not when the JVM binds them:
  // tests running beside this one may take one first. So a broker that
  // exits at start is tried again, in a new directory on new ports (three
  // tries, each failure's reason printed); the test fails if none starts.
  bool Start() {
    for (int attempt = 1;; ++attempt) {
      auto r = RunCommand(Runfile("tests/kafka/kafka.sh") + " start " + dir_ + " " +
                          std::to_string(port_) + " " + std::to_string(FreePort()));
      if (r.exit_code == 0) return true;
      if (attempt == 3) {
        ADD_FAILURE() << "kafka.sh start, " << attempt << " tries: " << r.output;
        return false;
      }
      std::cerr << "kafka.sh start on port " << port_ << " failed (try " << attempt
                << "), trying new ports: " << r.output << "\n";
      Stop();
      dir_ = NewTempDir("kafka");
      port_ = FreePort();
    }
  }
  bool Restart() { return Script("restart " + dir_ + " " + std::to_string(port_)); }
  void Stop() { Script("stop " + dir_); }
  void Kill() { Script("kill " + dir_); }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  ~Broker() { Stop(); }

 private:
  bool Script(const std::string& args) {
    auto r = RunCommand(Runfile("tests/kafka/kafka.sh") + " " + args);
    if (r.exit_code != 0) ADD_FAILURE() << "kafka.sh " << args << ": " << r.output;
    return r.exit_code == 0;
  }
  std::string dir_;
  int port_;
};

// The bridge (kafka_bridge/dipgate-bridge) with its log going to `log`.
class BridgeProcess {
 public:
  BridgeProcess(const std::string& config, const std::string& log) : log_(log) { Start(config); }
  void Start(const std::string& config) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(log_.c_str(), "a", stderr);
      (void)f;
      std::string bin = Runfile("kafka_bridge/dipgate-bridge");
      execl(bin.c_str(), bin.c_str(), "--config", config.c_str(), nullptr);
      _exit(127);
    }
  }
  void Signal(int sig) { kill(pid_, sig); }
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  ~BridgeProcess() { Stop(SIGKILL); }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

// A test suite with one broker for all its tests.
class KafkaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = new Broker();
    ASSERT_TRUE(broker_->Start());
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
  }
  static inline Broker* broker_ = nullptr;
};

struct KafkaRecord {
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

// An idempotent producer for test records.
class Producer {
 public:
  explicit Producer(const std::string& bootstrap);
  ~Producer();
  // To `partition`, or by key when PARTITION_UA (-1).
  void Send(const std::string& topic, const std::string& key, const std::string& value,
            int32_t partition = -1);
  // Waits until every record is stored (a test failure otherwise).
  void Flush();

 private:
  std::unique_ptr<RdKafka::Producer> p_;
};

// Up to `want` records of `topic` from its beginning, waiting up to
// `timeout_ms` for them.
std::vector<KafkaRecord> ReadTopic(const std::string& bootstrap, const std::string& topic,
                                   size_t want, int timeout_ms);

// The end of a log file, for failure messages.
std::string Tail(const std::string& path);

// The public IF-033 sample (schema-valid, so the DIP sandbox accepts it) as
// an outbound record: its senderUniqueReference carries `tag`, `key` and
// `seq` ("...-<tag><key>x<seq>"), its MPANCore is one per key; the array as
// the sample holds it when `wrapped`, else the bare payload.
std::string SampleRecord(const std::string& tag, const std::string& key, int seq, bool wrapped);

// The sample as the DIP delivers it: one {"payload": ...} element, message
// `i` with its own senderUniqueReference (carrying `tag` and the process)
// and MPANCore (`mpan_base` + i); with `d0`, the D0 block the DIP adds
// (transactionID `txid`, replayIndicator `replay`).
std::string SampleEgress(const std::string& tag, int i, int mpan_base, bool d0 = false,
                         const std::string& txid = "", bool replay = false);

}  // namespace dipgate::testing

#endif  // DIPGATE_TESTS_KAFKA_FIXTURE_H_
