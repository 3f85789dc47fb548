#include "kafka_bridge/duplicates.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dipgate::bridge {
namespace {

TEST(DuplicateWindow, RemembersWithinTheWindowOnly) {
  DuplicateWindow w(1000, 100);
  EXPECT_FALSE(w.Seen("T-1", 0));
  w.Record("T-1", 0);
  EXPECT_TRUE(w.Seen("T-1", 999));
  EXPECT_FALSE(w.Seen("T-2", 999));
  EXPECT_FALSE(w.Seen("T-1", 1000));  // the window has passed
  EXPECT_EQ(w.size(), 0u);
}

TEST(DuplicateWindow, BoundedOldestForgottenFirst) {
  DuplicateWindow w(1000000, 3);
  for (int i = 0; i < 5; ++i) w.Record("T-" + std::to_string(i), i);
  EXPECT_EQ(w.size(), 3u);
  EXPECT_FALSE(w.Seen("T-0", 10));
  EXPECT_FALSE(w.Seen("T-1", 10));
  EXPECT_TRUE(w.Seen("T-4", 10));
  // Recording again refreshes an entry: T-2 is now the newest.
  w.Record("T-2", 20);
  w.Record("T-5", 21);
  EXPECT_TRUE(w.Seen("T-2", 22));
  EXPECT_FALSE(w.Seen("T-3", 22));
}

TEST(DuplicateWindow, AnEmptyIdOrNoWindowRecordsNothing) {
  DuplicateWindow off(0, 10);
  off.Record("T-1", 0);
  EXPECT_FALSE(off.Seen("T-1", 0));
  DuplicateWindow w(1000, 10);
  w.Record("", 0);
  EXPECT_EQ(w.size(), 0u);
}

TEST(DuplicateWindow, ThreadSafe) {
  DuplicateWindow w(1000000, 100000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&w, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = "T-" + std::to_string(t) + "-" + std::to_string(i);
        w.Record(id, i);
        if (!w.Seen(id, i)) ADD_FAILURE() << id;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(w.size(), 8000u);
}

}  // namespace
}  // namespace dipgate::bridge
