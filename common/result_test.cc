#include "common/result.h"

#include <gtest/gtest.h>

#include <string>

namespace dipgate {
namespace {

Status FailsWhen(bool fail) {
  if (fail) return Error{Reason::kCertificateMalformed, "notAfter does not decode"};
  return OkStatus();
}

Result<int> Doubled(bool fail) {
  Status s = FailsWhen(fail);
  if (!s) return s.error();  // a Status's error passes into any Result<T>
  return 21 * 2;
}

TEST(Status, OkUnlessAnErrorWasGiven) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_TRUE(static_cast<bool>(ok));
  EXPECT_EQ(ok.reason(), Reason::kOk);
  EXPECT_TRUE(OkStatus().ok());
}

TEST(Status, CarriesTheReasonAndDetail) {
  Status failed = FailsWhen(true);
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(static_cast<bool>(failed));
  EXPECT_EQ(failed.reason(), Reason::kCertificateMalformed);
  EXPECT_EQ(failed.error().detail, "notAfter does not decode");

  Status direct(Reason::kInternalError, "out of memory");
  EXPECT_EQ(direct.reason(), Reason::kInternalError);
  EXPECT_EQ(direct.error().detail, "out of memory");
}

TEST(Status, ErrorFlowsIntoAResult) {
  auto good = Doubled(false);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  auto bad = Doubled(true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.reason(), Reason::kCertificateMalformed);
  EXPECT_EQ(bad.error().detail, "notAfter does not decode");
}

TEST(Result, ValueOrReason) {
  Result<std::string> v(std::string("x"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "x");
  EXPECT_EQ(v.reason(), Reason::kOk);
  Result<std::string> e(Reason::kBadBase64, "header");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.reason(), Reason::kBadBase64);
  EXPECT_EQ(e.error().detail, "header");
}

}  // namespace
}  // namespace dipgate
