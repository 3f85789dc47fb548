#include "transport/https.h"

#include <gtest/gtest.h>

namespace dipgate::transport {
namespace {

TEST(Https, ExpectContinueOnlyForBodiesAtTheThreshold) {
  TlsOptions o;  // default: 64 KiB
  EXPECT_STREQ(ExpectHeader(o, 0), "Expect:");
  EXPECT_STREQ(ExpectHeader(o, 65535), "Expect:");
  EXPECT_STREQ(ExpectHeader(o, 65536), "Expect: 100-continue");
  EXPECT_STREQ(ExpectHeader(o, 200 * 1024), "Expect: 100-continue");
  o.expect_continue_bytes = 0;  // never, not even past libcurl's own 1 MB rule
  EXPECT_STREQ(ExpectHeader(o, 2 << 20), "Expect:");
}

TEST(Https, UnreadableFilesFailAtLoadNamingThem) {
  TlsOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  auto s = LoadTls(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().detail, "TLS CA file: cannot read /nonexistent/ca.pem: No such file or directory");
  TlsOptions p;
  p.client_key_passphrase_file = "/nonexistent/pass";
  auto t = LoadTls(p);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().detail,
            "TLS key passphrase file: cannot read /nonexistent/pass: No such file or directory");
}

}  // namespace
}  // namespace dipgate::transport
