#include "common/digest.h"

#include <gtest/gtest.h>

namespace dipgate {
namespace {

TEST(ContentHash, Sha256Base64OfBody) {
  // echo -n abc | openssl dgst -sha256 -binary | base64
  EXPECT_EQ(ContentHash("abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

TEST(ContentHash, EmptyBodyIsHashedAsBraces) {
  EXPECT_EQ(ContentHash(""), ContentHash("{}"));
  EXPECT_EQ(ContentHash(""), "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=");
}

TEST(ContentHash, IncrementalEqualsOneShot) {
  std::string body(5000, 'x');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  ContentHasher h;
  for (size_t i = 0; i < body.size(); i += 333) h.Update(std::string_view(body).substr(i, 333));
  EXPECT_EQ(h.Finish(), ContentHash(body));
  EXPECT_EQ(h.Finish(), ContentHash(""));  // reset after Finish, empty rule applies
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(Hex, LowerCase) {
  const unsigned char b[] = {0x00, 0xab, 0xff};
  EXPECT_EQ(Hex(b, 3), "00abff");
}

}  // namespace
}  // namespace dipgate
