#include "common/wake_pipe.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace dipgate {
namespace {

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

// Bytes waiting in the pipe (drained).
int Drain(int fd) {
  char buf[256];
  int total = 0;
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) total += static_cast<int>(n);
  return total;
}

TEST(WakePipe, ManyNotifiesWriteOneByteUntilCleared) {
  auto wake = WakePipe::Create();
  ASSERT_TRUE(wake.ok()) << wake.error().detail;
  WakePipe& w = **wake;
  EXPECT_FALSE(Readable(w.read_fd(), 0));
  for (int i = 0; i < 100; ++i) w.Notify();
  EXPECT_TRUE(Readable(w.read_fd(), 0));
  w.Clear();
  EXPECT_FALSE(Readable(w.read_fd(), 0));  // drained
  w.Notify();                              // pending again: a new byte
  EXPECT_TRUE(Readable(w.read_fd(), 0));
  EXPECT_EQ(Drain(w.read_fd()), 1);
}

TEST(WakePipe, BytesWrittenByOthersWakeAndAreDrained) {
  auto wake = WakePipe::Create();
  ASSERT_TRUE(wake.ok());
  ASSERT_EQ(write((*wake)->write_fd(), "abc", 3), 3);  // as librdkafka's queue event does
  EXPECT_TRUE(Readable((*wake)->read_fd(), 0));
  (*wake)->Clear();
  EXPECT_FALSE(Readable((*wake)->read_fd(), 0));
}

// The rule the coordinator and the HTTP loop rely on: work queued before a
// Notify() is seen by a consumer that waits, Clear()s, then takes the
// queue. Producers race the consumer; every item must arrive and the
// consumer must never sleep with work queued (a lost wake-up would hang
// this test until the poll timeout, which fails it).
TEST(WakePipe, NoWakeUpIsLostUnderRaces) {
  auto wake = WakePipe::Create();
  ASSERT_TRUE(wake.ok());
  WakePipe& w = **wake;
  constexpr int kProducers = 4, kItems = 20000;
  std::mutex mu;
  std::vector<int> queue;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < kItems; ++i) {
        {
          std::lock_guard<std::mutex> lock(mu);
          queue.push_back(i);
        }
        w.Notify();
      }
    });
  }
  int received = 0, sleeps_that_timed_out = 0;
  size_t stranded = 0;  // queued while the consumer slept 2 s: a lost wake-up
  while (received < kProducers * kItems) {
    if (!Readable(w.read_fd(), 2000)) {
      ++sleeps_that_timed_out;
      std::lock_guard<std::mutex> lock(mu);
      stranded = queue.size();
      if (stranded > 0) break;  // the producers are joined before the verdict
      continue;
    }
    w.Clear();
    std::vector<int> now;
    {
      std::lock_guard<std::mutex> lock(mu);
      now.swap(queue);
    }
    received += static_cast<int>(now.size());
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(stranded, 0u) << "slept 2 s with work queued";
  EXPECT_EQ(received, kProducers * kItems);
  EXPECT_EQ(sleeps_that_timed_out, 0);
}

}  // namespace
}  // namespace dipgate
