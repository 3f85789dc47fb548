#include "kafka_bridge/retry.h"

#include <algorithm>
#include <cmath>

namespace dipgate::bridge {

int64_t BackoffMs(const RetryPolicy& p, int attempt, double unit_random, int64_t retry_after_ms) {
  double base = static_cast<double>(p.initial_backoff_ms) *
                std::pow(2.0, std::min(attempt - 1, 40));
  base = std::min(base, static_cast<double>(p.max_backoff_ms));
  double factor = 1.0 + p.jitter * (2.0 * unit_random - 1.0);
  int64_t wait = static_cast<int64_t>(base * factor);
  wait = std::clamp<int64_t>(wait, 0, p.max_backoff_ms);
  if (retry_after_ms >= 0) wait = std::max(wait, std::min(retry_after_ms, p.max_backoff_ms));
  return wait;
}

}  // namespace dipgate::bridge
