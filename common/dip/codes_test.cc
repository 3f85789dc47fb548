#include "common/dip/codes.h"

#include <gtest/gtest.h>

#include <set>

namespace dipgate::dip {
namespace {

TEST(ResponseCodes, TableComesFromTheSpec) {
  size_t n = 0;
  const ResponseCode* all = ResponseCodes(&n);
  EXPECT_GE(n, 190u);  // 19 MSG, 29 RCP, REG, SP, DS, ECS in spec 2.1.0
  std::set<std::string_view> seen;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(seen.insert(all[i].code).second) << "duplicate " << all[i].code;
    EXPECT_FALSE(all[i].meaning.empty()) << all[i].code;
  }
  EXPECT_EQ(FindResponseCode("MSG1001").meaning, "Schema Failure");
  EXPECT_EQ(FindResponseCode("MSG1006").meaning, "Sender Unique Reference Duplicated");
  EXPECT_EQ(FindResponseCode("RCP9999").meaning, "Message Signature Invalid");
  EXPECT_EQ(FindResponseCode("SP000").meaning, "Proposed Appointment ACCEPTED");
  EXPECT_EQ(FindResponseCode("XYZ0001").kind, CodeClass::kUnknown);
}

TEST(ResponseCodes, WhoActsOnEachCode) {
  EXPECT_EQ(FindResponseCode("MSG0000").kind, CodeClass::kSuccess);
  EXPECT_EQ(FindResponseCode("RCP0000").kind, CodeClass::kSuccess);
  EXPECT_EQ(FindResponseCode("MSG1006").kind, CodeClass::kDuplicate);
  EXPECT_EQ(FindResponseCode("MSG1000").kind, CodeClass::kTransient);
  EXPECT_EQ(FindResponseCode("RCP1000").kind, CodeClass::kTransient);
  EXPECT_EQ(FindResponseCode("MSG1001").kind, CodeClass::kSenderFault);
  EXPECT_EQ(FindResponseCode("RCP9999").kind, CodeClass::kSenderFault);
  EXPECT_EQ(FindResponseCode("REG1001").kind, CodeClass::kBusiness);
}

TEST(ResponseCodes, CodeOfAMessage) {
  EXPECT_EQ(CodeOf("MSG0000 - Success"), "MSG0000");
  EXPECT_EQ(CodeOf("MSG1001 -Schema Failure"), "MSG1001");  // the spec's 400 example
  EXPECT_EQ(CodeOf("MSG1006"), "MSG1006");
  EXPECT_EQ(CodeOf("SP008 - Address"), "SP008");
  EXPECT_EQ(CodeOf("Success"), "");
  EXPECT_EQ(CodeOf("MSG10011 - x"), "");
  EXPECT_EQ(CodeOf("MSG10a"), "");
  EXPECT_EQ(CodeOf(""), "");
  EXPECT_EQ(MessageFor("MSG1001"), "MSG1001 - Schema Failure");
  EXPECT_EQ(MessageFor("ZZZ9999"), "ZZZ9999");
}

TEST(ResponseCodes, TheDipsWebhookRetryTable) {
  for (int s : {200, 201, 204, 207}) EXPECT_EQ(DipActionFor(s), DipAction::kDelivered) << s;
  for (int s : {408, 429, 500, 502, 503, 504}) EXPECT_EQ(DipActionFor(s), DipAction::kRetry) << s;
  for (int s : {400, 401, 403, 404, 405, 406, 413, 505}) {
    EXPECT_EQ(DipActionFor(s), DipAction::kDrop) << s;
  }
  EXPECT_EQ(DipActionFor(507), DipAction::kRetry);
  EXPECT_EQ(DipActionFor(418), DipAction::kDrop);
}

TEST(ResponseCodes, ReasonsMapToTheDipsCodes) {
  EXPECT_EQ(IngressCodeFor(Reason::kSchemaInvalid), "MSG1001");
  EXPECT_EQ(IngressCodeFor(Reason::kChannelMismatch), "MSG1002");
  EXPECT_EQ(IngressCodeFor(Reason::kInternalError), "MSG1000");
  EXPECT_EQ(IngressCodeFor(Reason::kSignatureMismatch), "");
  EXPECT_EQ(RecipientCodeFor(Reason::kSignatureMismatch), "RCP9999");
  EXPECT_EQ(RecipientCodeFor(Reason::kCertificateRevoked), "RCP9999");
  EXPECT_EQ(RecipientCodeFor(Reason::kCrlExpired), "RCP1000");
  EXPECT_EQ(RecipientCodeFor(Reason::kUnknownEventCode), "RCP1003");
  EXPECT_EQ(RecipientCodeFor(Reason::kEnvironmentTagMismatch), "RCP1004");
  EXPECT_EQ(RecipientCodeFor(Reason::kUnsupportedSchemaVersion), "RCP1005");
  EXPECT_EQ(RecipientCodeFor(Reason::kBadSenderUniqueReference), "RCP1006");
  // Every code a mapping gives is in the spec's table.
  for (int r = 0; r <= static_cast<int>(Reason::kInternalError); ++r) {
    for (std::string_view code : {IngressCodeFor(static_cast<Reason>(r)),
                                  RecipientCodeFor(static_cast<Reason>(r))}) {
      if (!code.empty()) EXPECT_NE(FindResponseCode(code).kind, CodeClass::kUnknown) << code;
    }
  }
}

}  // namespace
}  // namespace dipgate::dip
