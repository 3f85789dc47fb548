// dipgate-bridge: both directions between Kafka and the DIP.
//   outbound (outbound.h)  routed topics -> signed DIP API calls
//   inbound (inbound.h)    verified DIP webhooks -> topics
// with the metrics and health endpoint (metrics.h) beside them.
#ifndef DIPGATE_KAFKA_BRIDGE_BRIDGE_H_
#define DIPGATE_KAFKA_BRIDGE_BRIDGE_H_

#include <atomic>
#include <memory>

#include "common/result.h"
#include "kafka_bridge/config.h"
#include "kafka_bridge/metrics.h"

namespace dipgate::bridge {

class Inbound;
class Outbound;

class Bridge {
 public:
  // Starts what the configuration asks for: outbound delivery (identities,
  // TLS files, Kafka clients, signing and HTTP threads), the inbound
  // listener, the metrics endpoint. internal_error naming what failed.
  static Result<std::unique_ptr<Bridge>> Start(Config config);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Runs until RequestStop(); returns the process exit code.
  int Run();
  // Safe from a signal handler.
  void RequestStop() { stop_.store(true); }
  void RequestReload() { reload_.store(true); }

 private:
  Bridge() = default;

  Config config_;
  Metrics metrics_;                    // outlives both directions (declared before them)
  std::unique_ptr<Inbound> inbound_;   // null when not configured
  std::unique_ptr<Outbound> outbound_;  // null for an inbound-only bridge
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_BRIDGE_H_
