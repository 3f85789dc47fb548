// The bridge: consumes the routed Kafka topics, signs each message and
// POSTs it to the DIP over mTLS, and commits an offset only after the DIP
// answered 2xx or the message was written to the dead-letter topic and that
// write was acknowledged (at-least-once). Messages of one partition are
// delivered one at a time, in order; partitions are delivered in parallel up
// to max_in_flight. Fetched-but-undelivered messages are bounded
// (max_buffered_messages): past it, consumption pauses.
//
// Threads: the main thread owns the KafkaConsumer (consume, rebalance,
// commit); worker threads deliver; librdkafka's producer (dead letters) and
// libmicrohttpd (metrics) run their own.
#ifndef DIPGATE_KAFKA_BRIDGE_BRIDGE_H_
#define DIPGATE_KAFKA_BRIDGE_BRIDGE_H_

#include <atomic>
#include <memory>
#include <string>

#include "kafka_bridge/config.h"
#include "kafka_bridge/log.h"
#include "kafka_bridge/metrics.h"

namespace dipgate::bridge {

class Bridge {
 public:
  explicit Bridge(Config config);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Loads identities and TLS files, creates the Kafka clients, starts the
  // workers and the metrics endpoint. False (with why) on any failure.
  bool Start(std::string* error);
  // What --check adds to the configuration checks: loads every identity
  // (key, passphrase, certificate) and the TLS client certificate, as Start
  // would, without connecting to anything.
  bool CheckIdentities(std::string* error);
  // Runs until RequestStop(); returns the process exit code.
  int Run();
  // Safe from a signal handler.
  void RequestStop() { stop_.store(true); }
  void RequestReload() { reload_.store(true); }

  Metrics& metrics();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
};


}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_BRIDGE_H_
