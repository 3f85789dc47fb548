#include "common/json_text.h"

#include <gtest/gtest.h>

namespace dipgate {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote(std::string("x\n\t\x01", 4)), "\"x\\u000a\\u0009\\u0001\"");
  EXPECT_EQ(JsonQuote("\xc3\xa9"), "\"\xc3\xa9\"");  // UTF-8 passes through
}

}  // namespace
}  // namespace dipgate
