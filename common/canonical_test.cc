#include "common/canonical.h"

#include <gtest/gtest.h>

namespace dipgate {
namespace {

constexpr UnixMillis kT = 1795421700123;  // 2026-11-23T08:15:00.123Z

TEST(SignatureString, UpperVerbLowerDestination) {
  EXPECT_EQ(SignatureString("post", "HTTPS://Dip.Example/API/If-033", "2026-11-23T11:35:00.123Z",
                            "abc="),
            "POST;https://dip.example/api/if-033;2026-11-23T11:35:00.123Z;abc=");
}

TEST(SignatureString, CandidatesKeepPathCaseForDotNetSenders) {
  auto c = CandidateSignatureStrings("POST", "HTTPS://Dip.Example/Api/IF-033?X=Y", "d", "h");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], "POST;https://dip.example/api/if-033?x=y;d;h");
  EXPECT_EQ(c[1], "POST;https://dip.example/Api/IF-033?X=Y;d;h");
  EXPECT_EQ(CandidateSignatureStrings("GET", "https://dip.example/api", "d", "h").size(), 1u);
}

TEST(SignatureDate, FormatsUtcMilliseconds) {
  EXPECT_EQ(FormatSignatureDate(kT), "2026-11-23T08:15:00.123Z");
  EXPECT_EQ(FormatSignatureDate(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatSignatureDate(951782400000), "2000-02-29T00:00:00.000Z");
}

TEST(SignatureDate, ParsesEverySenderVariant) {
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00.123Z"), kT);           // JS, Go
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00.1234567Z"), kT);       // .NET "o"
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00.123:Z"), kT);          // CoCo table
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00.123456789Z"), kT);
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00.12Z"), kT - 3);
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00Z"), kT - 123);
  EXPECT_EQ(ParseSignatureDate("2026-11-23T09:15:00.123+01:00"), kT);
  EXPECT_EQ(ParseSignatureDate("2026-11-23T03:15:00.123-0500"), kT);
  EXPECT_EQ(ParseSignatureDate("2026-11-23T08:15:00.123+00:00"), kT);
  EXPECT_EQ(ParseSignatureDate("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(SignatureDate, RejectsMalformedAndOutOfRange) {
  for (const char* bad :
       {"", "2026-11-23", "2026-11-23T08:15:00.123", "2026-11-23 08:15:00Z",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z",
        "2026-11-23T24:00:00Z", "2026-11-23T08:60:00Z", "2026-11-23T08:15:60Z",
        "2026-11-23T08:15:00.Z", "2026-11-23T08:15:00.1234567890Z", "2026-11-23T08:15:00.123ZZ",
        "2026-11-23T08:15:00.123+1:00", "2026-11-23T08:15:00.123+24:00", "Mon, 23 Nov 2026",
        "2026-11-23T08:15:00.123 Z", "+2026-11-23T08:15:00Z", "2026-1a-23T08:15:00Z"}) {
    EXPECT_FALSE(ParseSignatureDate(bad).has_value()) << bad;
  }
}

TEST(SignatureDate, FormatParseRoundTrip) {
  for (UnixMillis t = 0; t < 4102444800000; t += 86400000LL * 37 + 3600123) {
    EXPECT_EQ(ParseSignatureDate(FormatSignatureDate(t)), t);
  }
}

}  // namespace
}  // namespace dipgate
