#include "common/headers.h"

#include <gtest/gtest.h>

namespace dipgate {
namespace {

TEST(SignedHeaderList, TheFourThenTheApiKey) {
  DipHeaders h{"sig", "date", "cert", "hash"};
  auto list = SignedHeaderList(h, "key");
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(list[0], (std::pair<std::string, std::string>{"X-DIP-Signature", "sig"}));
  EXPECT_EQ(list[1].first, "X-DIP-Signature-Date");
  EXPECT_EQ(list[2].first, "X-DIP-Signature-Certificate");
  EXPECT_EQ(list[3], (std::pair<std::string, std::string>{"X-DIP-Content-Hash", "hash"}));
  EXPECT_EQ(list[4], (std::pair<std::string, std::string>{"X-API-KEY", "key"}));
  EXPECT_EQ(SignedHeaderList(h).size(), 4u);  // no key, no header
}

TEST(IsDipHeaderName, AnyCaseAndTheLegacyName) {
  for (const char* name : {"x-dip-signature", "X-DIP-SIGNATURE-DATE", "x-dip-certificate",
                           "X-Api-Key", "X-DIP-Content-Hash"}) {
    EXPECT_TRUE(IsDipHeaderName(name)) << name;
  }
  for (const char* name : {"X-DIP-MPO", "Content-Type", "X-DIP-Signatures", ""}) {
    EXPECT_FALSE(IsDipHeaderName(name)) << name;
  }
}

TEST(DipHeaderCollector, CollectsInAnyCase) {
  DipHeaderCollector c;
  c.Add("Host", "x");
  c.Add("x-dip-signature", "s");
  c.Add("X-DIP-SIGNATURE-DATE", "d");
  c.Add("X-Dip-Signature-Certificate", "c");
  c.Add("x-dip-content-hash", "h");
  EXPECT_EQ(c.signature(), "s");
  EXPECT_EQ(c.signature_date(), "d");
  EXPECT_EQ(c.certificate(), "c");
  EXPECT_EQ(c.content_hash(), "h");
  EXPECT_TRUE(c.duplicate().empty());
}

TEST(DipHeaderCollector, OneRuleForRepeats) {
  DipHeaderCollector twice;
  twice.Add("X-DIP-Signature", "a");
  twice.Add("x-dip-signature", "b");
  EXPECT_EQ(twice.duplicate(), "X-DIP-Signature");
  EXPECT_EQ(twice.signature(), "a");  // the first is kept

  // The legacy certificate header stands in only when the standard one is
  // absent, and only then does its repetition count.
  DipHeaderCollector legacy;
  legacy.Add("X-DIP-Certificate", "old");
  EXPECT_EQ(legacy.certificate(), "old");
  EXPECT_TRUE(legacy.duplicate().empty());
  legacy.Add("X-DIP-Certificate", "old2");
  EXPECT_EQ(legacy.duplicate(), "X-DIP-Certificate");

  DipHeaderCollector both;
  both.Add("X-DIP-Certificate", "old");
  both.Add("X-DIP-Certificate", "old2");
  both.Add("X-DIP-Signature-Certificate", "new");
  EXPECT_EQ(both.certificate(), "new");
  EXPECT_TRUE(both.duplicate().empty()) << both.duplicate();
}

}  // namespace
}  // namespace dipgate
