#include "kafka_bridge/retry.h"

#include <gtest/gtest.h>

namespace dipgate::bridge {
namespace {

TEST(Retry, ExponentialCappedWithJitter) {
  RetryPolicy p;
  p.initial_backoff_ms = 100;
  p.max_backoff_ms = 1000;
  p.jitter = 0.2;
  EXPECT_EQ(BackoffMs(p, 1, 0.5, -1), 100);
  EXPECT_EQ(BackoffMs(p, 2, 0.5, -1), 200);
  EXPECT_EQ(BackoffMs(p, 3, 0.5, -1), 400);
  EXPECT_EQ(BackoffMs(p, 4, 0.5, -1), 800);
  EXPECT_EQ(BackoffMs(p, 5, 0.5, -1), 1000);
  EXPECT_EQ(BackoffMs(p, 60, 0.5, -1), 1000);  // no overflow
  EXPECT_EQ(BackoffMs(p, 1, 0.0, -1), 80);
  EXPECT_EQ(BackoffMs(p, 1, 0.999999, -1), 119);
  EXPECT_LE(BackoffMs(p, 10, 0.999999, -1), 1000);  // jitter never passes the cap
}

TEST(Retry, RetryAfterWinsUpToTheCap) {
  RetryPolicy p;
  p.initial_backoff_ms = 100;
  p.max_backoff_ms = 5000;
  EXPECT_EQ(BackoffMs(p, 1, 0.5, 2000), 2000);
  EXPECT_EQ(BackoffMs(p, 1, 0.5, 60000), 5000);
  EXPECT_EQ(BackoffMs(p, 1, 0.5, 0), 100);
}

}  // namespace
}  // namespace dipgate::bridge
