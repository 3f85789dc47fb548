// Kafka -> DIP: consumes the routed topics, orders records per key
// (ordering.h), prepares each as DIP messages (delivery.h), batches them per
// channel and identity, signs each POST on the signing pool, sends it on the
// HTTP loop, reads the StandardResponse, and commits each partition's
// contiguous done prefix. A record is done when the DIP accepted it
// (MSG0000, or MSG1006: received before) and its receipts are stored, or
// when its dead letter is stored: nothing is committed before that.
//
// Threads and lifetimes: one coordinator thread (the caller of Run()) owns
// all state: the consumer, the ledgers, the batches, the timers; rebalance
// callbacks and producer acknowledgements run on it. The signing pool and
// the HTTP loop hand results back through an inbox that wakes the
// coordinator. Destruction order matters and is the reverse of the
// members' order: the HTTP loop and the signing pool stop (their callbacks
// post into the inbox) before the inbox, the producer and the consumer go.
#ifndef DIPGATE_KAFKA_BRIDGE_OUTBOUND_H_
#define DIPGATE_KAFKA_BRIDGE_OUTBOUND_H_

#include <atomic>
#include <memory>

#include "common/result.h"
#include "kafka_bridge/config.h"
#include "kafka_bridge/metrics.h"

namespace dipgate::bridge {

class Outbound {
 public:
  // Loads the identities and TLS files, creates the Kafka clients, the
  // signing pool and the HTTP loop, and subscribes. `metrics` outlives this.
  static Result<std::unique_ptr<Outbound>> Start(const Config& config, Metrics* metrics);
  ~Outbound();
  Outbound(const Outbound&) = delete;
  Outbound& operator=(const Outbound&) = delete;

  // Runs until `stop`; a true `reload` (SIGHUP) re-reads the identities and
  // TLS files and is reset. Then stops fetching, lets requests in flight
  // finish within shutdown_timeout_ms, commits what is done, and leaves the
  // group. Returns the process exit code (1 after a fatal Kafka error).
  int Run(std::atomic<bool>& stop, std::atomic<bool>& reload);

  struct Impl;

 private:
  explicit Outbound(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_OUTBOUND_H_
