// Backoff between delivery attempts (CoCo 4.3.2): exponential, with
// jitter, capped at a maximum wait; a Retry-After from the DIP wins when it
// asks for longer.
#ifndef DIPGATE_KAFKA_BRIDGE_RETRY_H_
#define DIPGATE_KAFKA_BRIDGE_RETRY_H_

#include <cstdint>

#include "kafka_bridge/config.h"

namespace dipgate::bridge {

// Wait before attempt number `attempt` + 1 (attempt >= 1 failed so far).
// `unit_random` in [0, 1) picks the jitter; `retry_after_ms` < 0 if absent.
int64_t BackoffMs(const RetryPolicy& policy, int attempt, double unit_random,
                  int64_t retry_after_ms);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_RETRY_H_
