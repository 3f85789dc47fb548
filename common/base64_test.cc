#include "common/base64.h"

#include <gtest/gtest.h>

namespace dipgate {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2)), "+/8=");
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    data.push_back(static_cast<char>(i * 37 + 11));
    auto back = Base64Decode(Base64Encode(data));
    ASSERT_TRUE(back.has_value()) << i;
    EXPECT_EQ(*back, data);
  }
}

TEST(Base64, AcceptsUnpaddedAndUrlSafe) {
  EXPECT_EQ(Base64Decode("Zg").value(), "f");
  EXPECT_EQ(Base64Decode("Zm8").value(), "fo");
  EXPECT_EQ(Base64Decode("-_8").value(), std::string("\xfb\xff", 2));
  EXPECT_EQ(Base64Decode("-_8=").value(), std::string("\xfb\xff", 2));
}

TEST(Base64, RejectsMalformedInput) {
  for (const char* bad : {"Z", "Zg=", "Zg===", "Z===", "Zm9v!", "Zm 9v", "Zm9v\n", "=Zm9",
                          "Zm=v", "Zh==", "Zm9=", "\xc3\xa9Zm9"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace dipgate
