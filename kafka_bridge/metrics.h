// Counters the bridge exports in Prometheus text format on a local HTTP
// port (libmicrohttpd), with a health endpoint:
//   GET /metrics   dipgate_bridge_* counters, gauges and a latency histogram
//   GET /healthz   200 "ok" while consuming, 503 with the reason otherwise
//                  (also in /metrics: dipgate_bridge_healthy 1 or 0)
#ifndef DIPGATE_KAFKA_BRIDGE_METRICS_H_
#define DIPGATE_KAFKA_BRIDGE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

struct MHD_Daemon;

namespace dipgate::bridge {

class Metrics {
 public:
  static constexpr std::array<double, 10> kBucketsSeconds = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,  0.5,  1,     5,    30};
  std::atomic<uint64_t> consumed{0}, delivered{0}, retried{0}, dead_lettered{0},
      committed{0}, abandoned{0};
  // outbound, DIP API
  std::atomic<uint64_t> posts{0}, batch_splits{0}, dip_duplicates{0}, receipts{0},
      api_key_fallbacks{0};
  std::atomic<int64_t> in_flight{0}, requests_in_flight{0}, buffered{0}, buffered_peak{0},
      lag{0}, paused{0}, http1_fallback{0};
  std::atomic<int64_t> certificate_days_to_expiry{0};
  // inbound (webhooks -> Kafka)
  std::atomic<uint64_t> webhooks_received{0}, webhooks_accepted{0}, webhooks_refused{0},
      webhooks_unavailable{0}, inbound_produced{0}, inbound_duplicates{0}, inbound_replays{0};
  std::atomic<uint64_t> inbound_ack_micros{0};  // sum over accepted webhooks

  void ObserveLatency(double seconds);
  // A webhook refused or answered 503, by reason word.
  void CountWebhookRefusal(const std::string& reason);
  // A record written to the dead-letter topic, by reason word (also counted
  // in dead_lettered).
  void CountDeadLetter(std::string_view reason);
  // A dead-letter reason shown at 0 until counted: a series that appears
  // only with its first count hides that count from rate() and increase().
  void ExpectDeadLetter(std::string_view reason);
  // An answer of the DIP to one of the bridge's POSTs, by HTTP status (0: no
  // HTTP answer: a transport error or the request timeout).
  void CountDipAnswer(long status);
  void SetHealth(bool healthy, const std::string& why);
  std::string Render() const;
  // Ok while consuming or receiving; otherwise why not.
  Status Healthy() const;

  // Serves /metrics and /healthz on host:port; internal_error naming the
  // address if it cannot listen.
  Status Serve(const std::string& listen);
  void StopServing();
  ~Metrics();

 private:
  mutable std::mutex mu_;
  std::array<uint64_t, kBucketsSeconds.size()> buckets_{};
  uint64_t latency_count_ = 0;
  double latency_sum_ = 0;
  std::map<std::string, uint64_t> refusals_;  // reason word -> webhooks
  std::map<std::string, uint64_t, std::less<>> dead_letters_;  // reason word -> records
  std::map<long, uint64_t> dip_answers_;                       // HTTP status -> answers
  bool healthy_ = false;
  std::string health_reason_ = "starting";
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_METRICS_H_
