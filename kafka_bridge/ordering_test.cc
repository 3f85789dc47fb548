#include "kafka_bridge/ordering.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace dipgate::bridge {
namespace {

TEST(PartitionLedger, DifferentKeysGoTogetherTheSameKeyWaits) {
  PartitionLedger ledger;
  EXPECT_EQ(ledger.CommitOffset(), -1);
  ledger.Add(10, "a");
  ledger.Add(11, "b");
  ledger.Add(12, "a");
  ledger.Add(13, "c");
  EXPECT_EQ(ledger.Take(), 10);
  EXPECT_EQ(ledger.Take(), 11);
  EXPECT_EQ(ledger.Take(), 13);  // 12 waits behind 10 (key a)
  EXPECT_EQ(ledger.Take(), std::nullopt);
  EXPECT_EQ(ledger.in_flight(), 3u);
  EXPECT_EQ(ledger.buffered(), 4u);
  EXPECT_EQ(ledger.CommitOffset(), 10);
  // 11 and 13 done above the gap at 10: nothing committable yet.
  EXPECT_TRUE(ledger.Finish(13));
  EXPECT_TRUE(ledger.Finish(11));
  EXPECT_EQ(ledger.CommitOffset(), 10);
  EXPECT_EQ(ledger.Take(), std::nullopt);
  EXPECT_TRUE(ledger.Finish(10));
  EXPECT_EQ(ledger.CommitOffset(), 12);  // 12 still open
  EXPECT_EQ(ledger.Take(), 12);
  EXPECT_TRUE(ledger.Finish(12));
  EXPECT_EQ(ledger.CommitOffset(), 14);
  EXPECT_EQ(ledger.buffered(), 0u);
  EXPECT_EQ(ledger.in_flight(), 0u);
}

TEST(PartitionLedger, RefusesWhatItCannotAccount) {
  PartitionLedger ledger;
  EXPECT_TRUE(ledger.Add(5, "k"));
  EXPECT_FALSE(ledger.Add(5, "k"));  // a repeat
  EXPECT_FALSE(ledger.Add(3, "k"));  // going back
  EXPECT_FALSE(ledger.Finish(5));    // not taken
  EXPECT_FALSE(ledger.Finish(99));   // never seen
  EXPECT_EQ(ledger.Take(), 5);
  EXPECT_TRUE(ledger.Finish(5));
  EXPECT_FALSE(ledger.Finish(5));  // twice
  // Gaps in offsets (compaction): the commit point follows the last one.
  EXPECT_TRUE(ledger.Add(9, "k"));
  EXPECT_EQ(ledger.CommitOffset(), 9);
  EXPECT_EQ(ledger.Take(), 9);
  EXPECT_TRUE(ledger.Finish(9));
  EXPECT_EQ(ledger.CommitOffset(), 10);
}

// Random arrivals, random completion order: a key is never in flight twice,
// each key's messages are handed out in offset order, every message is
// handed out once, and the commit offset is always the lowest open one.
TEST(PartitionLedger, RandomisedHistoryKeepsTheRules) {
  for (int seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    PartitionLedger ledger;
    int64_t next_offset = 0;
    std::map<int64_t, std::string> key_of;
    std::set<int64_t> open, taken_now;
    std::map<std::string, int64_t> last_taken;
    std::set<std::string> keys_in_flight;
    int handed_out = 0;
    const int total = 400;
    while (handed_out < total || !taken_now.empty()) {
      int action = static_cast<int>(rng() % 3);
      if (action == 0 && next_offset < total) {
        int64_t offset = next_offset;
        next_offset += 1 + static_cast<int64_t>(rng() % 2);  // gaps now and then
        std::string key = "k" + std::to_string(rng() % 7);
        ASSERT_TRUE(ledger.Add(offset, key));
        key_of[offset] = key;
        open.insert(offset);
        if (next_offset >= total) next_offset = total;
      } else if (action == 1) {
        auto got = ledger.Take();
        if (!got) continue;
        const std::string& key = key_of.at(*got);
        ASSERT_TRUE(keys_in_flight.insert(key).second) << "key " << key << " in flight twice";
        if (last_taken.count(key)) {
          ASSERT_LT(last_taken[key], *got) << "key " << key << " reordered";
        }
        last_taken[key] = *got;
        taken_now.insert(*got);
        ++handed_out;
      } else if (!taken_now.empty()) {
        auto it = taken_now.begin();
        std::advance(it, rng() % taken_now.size());
        int64_t done = *it;
        taken_now.erase(it);
        ASSERT_TRUE(ledger.Finish(done));
        keys_in_flight.erase(key_of.at(done));
        open.erase(done);
      }
      int64_t expected = open.empty() ? (key_of.empty() ? -1 : key_of.rbegin()->first + 1)
                                      : *open.begin();
      ASSERT_EQ(ledger.CommitOffset(), expected);
      ASSERT_EQ(ledger.buffered(), open.size());
      ASSERT_EQ(ledger.in_flight(), taken_now.size());
      if (handed_out == static_cast<int>(key_of.size()) && next_offset >= total &&
          taken_now.empty()) {
        break;
      }
    }
    EXPECT_EQ(handed_out, static_cast<int>(key_of.size())) << "seed " << seed;
    EXPECT_EQ(ledger.buffered(), 0u);
  }
}

}  // namespace
}  // namespace dipgate::bridge
