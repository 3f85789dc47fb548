// The bridge's Kafka producer, for the records it writes itself (dead
// letters, receipts): idempotent, acknowledged by all in-sync replicas, and
// asynchronous. A record's `acked` callback runs inside Poll(), on the
// thread that polls (the coordinator), so it may touch that thread's state.
#ifndef DIPGATE_KAFKA_BRIDGE_PRODUCER_H_
#define DIPGATE_KAFKA_BRIDGE_PRODUCER_H_

#include <librdkafka/rdkafkacpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace dipgate::bridge {

struct OutRecord {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

class KafkaProducer {
 public:
  using Acked = std::function<void(RdKafka::ErrorCode)>;

  // `properties`: librdkafka's (the consumer-only ones left out by the
  // caller); `role` names the producer in errors ("dead letters").
  static Result<std::unique_ptr<KafkaProducer>> Create(
      std::map<std::string, std::string> properties, const std::string& role);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues `record`; `acked` runs in a later Poll() with the broker's
  // answer (ERR_NO_ERROR once stored). An immediate failure (queue full,
  // unknown topic) is returned and `acked` never runs.
  RdKafka::ErrorCode Produce(const OutRecord& record, Acked acked);
  // Serves delivery reports for up to `timeout_ms`.
  void Poll(int timeout_ms) { producer_->poll(timeout_ms); }
  // A byte is written to `fd` when a report waits to be served, so an event
  // loop can sleep in poll(2) on it.
  void WakeOn(int fd);
  // Waits for every queued record, up to `timeout_ms`.
  void Flush(int timeout_ms) { producer_->flush(timeout_ms); }

 private:
  class Reports : public RdKafka::DeliveryReportCb {
   public:
    void dr_cb(RdKafka::Message& message) override;
    bool closing = false;  // set by the destructor: callbacks are freed, not run
  };
  KafkaProducer() = default;

  Reports reports_;                             // outlives producer_ (declared first)
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_PRODUCER_H_
