#include "common/signer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/digest.h"
#include "common/verifier.h"
#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::PkiNow;

const char kUrl[] = "https://dip.example.co.uk/api/v1/IF-041";

Verdict VerifyWith(const std::shared_ptr<const SigningIdentity>& id) {
  auto signer = RequestSigner::Create(id);
  EXPECT_TRUE(signer.ok());
  auto h = signer->Sign("post", kUrl, "{\"a\":1}", PkiNow());
  EXPECT_TRUE(h.ok());
  SignedRequest r = RequestOf("POST", kUrl, "{\"a\":1}", *h);
  Verifier v(testing::PkiTrust(), VerifyPolicy{});
  return v.Verify(r, PkiNow());
}

TEST(Signer, EmitsTheFourHeaders) {
  auto signer = RequestSigner::Create(testing::PkiIdentity("signer-rsa"));
  ASSERT_TRUE(signer.ok());
  auto h = signer->Sign("POST", kUrl, "{}", 1795421700123);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->signature_date, "2026-11-23T08:15:00.123Z");
  EXPECT_EQ(h->content_hash, ContentHash("{}"));
  EXPECT_EQ(h->certificate, signer->identity().certificate_header);
  EXPECT_EQ(h->signature.size(), 344u);  // base64 of 256 bytes
}

TEST(Signer, LoadsPlainPemKey) {
  KeySource s{"plain", PkiFile("signer-rsa.pem"), PkiFile("signer-rsa.key"), "", ""};
  auto id = LoadIdentity(s);
  ASSERT_TRUE(id.ok()) << id.error().detail;
  EXPECT_TRUE((*id)->warnings.empty());
  EXPECT_TRUE(VerifyWith(*id).ok());
}

TEST(Signer, LoadsEncryptedPkcs8WithPassphraseFile) {
  KeySource s{"enc", PkiFile("signer-ec.pem"), PkiFile("signer-ec.encrypted.key"), "",
              PkiFile("passphrase.txt")};
  auto id = LoadIdentity(s);
  ASSERT_TRUE(id.ok()) << id.error().detail;
  EXPECT_TRUE(VerifyWith(*id).ok());
}

TEST(Signer, EncryptedKeyWithoutOrWithWrongPassphraseFails) {
  KeySource s{"enc", PkiFile("signer-ec.pem"), PkiFile("signer-ec.encrypted.key"), "", ""};
  auto id = LoadIdentity(s);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().detail.find("passphrase"), std::string::npos);
  std::string dir = testing::NewTempDir("pass");
  testing::WriteFile(dir + "/wrong.txt", "not-the-passphrase\n");
  chmod((dir + "/wrong.txt").c_str(), 0600);
  s.passphrase_file = dir + "/wrong.txt";
  id = LoadIdentity(s);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().detail.find("signer-ec.encrypted.key"), std::string::npos);
  EXPECT_EQ(id.error().detail.find("not-the-passphrase"), std::string::npos);  // never logged
}

TEST(Signer, LoadsPkcs12) {
  KeySource s{"p12", "", "", PkiFile("signer-rsa.p12"), PkiFile("passphrase.txt")};
  auto id = LoadIdentity(s);
  ASSERT_TRUE(id.ok()) << id.error().detail;
  EXPECT_EQ((*id)->info.common_name, "energydip-nonprod.example.co.uk");
  EXPECT_TRUE(VerifyWith(*id).ok());
  s.passphrase_file = "";
  EXPECT_FALSE(LoadIdentity(s).ok());
}

TEST(Signer, RefusesMismatchedKeyAndMissingFiles) {
  KeySource s{"mix", PkiFile("signer-rsa.pem"), PkiFile("signer-prod.key"), "", ""};
  auto id = LoadIdentity(s);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().detail.find("does not match"), std::string::npos);
  s.key_file = "/nonexistent.key";
  id = LoadIdentity(s);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().detail, "key file: cannot read /nonexistent.key: No such file or directory");
  s.key_file = PkiFile("signer-rsa.key");
  s.passphrase_file = "/nonexistent.pass";
  id = LoadIdentity(s);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().detail,
            "passphrase file: cannot read /nonexistent.pass: No such file or directory");
  KeySource empty{"none", "", "", "", ""};
  EXPECT_FALSE(LoadIdentity(empty).ok());
}

TEST(Signer, WarnsAboutLooseKeyPermissions) {
  std::string dir = testing::NewTempDir("perm");
  testing::WriteFile(dir + "/k.pem", testing::ReadFile(PkiFile("signer-rsa.key")));
  chmod((dir + "/k.pem").c_str(), 0644);
  KeySource s{"loose", PkiFile("signer-rsa.pem"), dir + "/k.pem", "", ""};
  auto id = LoadIdentity(s);
  ASSERT_TRUE(id.ok());
  ASSERT_EQ((*id)->warnings.size(), 1u);
  EXPECT_NE((*id)->warnings[0].find("644"), std::string::npos);
}

TEST(Signer, SeveralIdentitiesSideBySide) {
  IdentitySet set;
  ASSERT_TRUE(set.Add(testing::PkiIdentity("signer-rsa")).ok());
  auto ec = LoadIdentity({"signer-ec", PkiFile("signer-ec.pem"), PkiFile("signer-ec.key"), "", ""});
  ASSERT_TRUE(ec.ok());
  ASSERT_TRUE(set.Add(*ec).ok());
  EXPECT_FALSE(set.Add(*ec).ok());  // a name appears once
  EXPECT_EQ(set.size(), 2u);
  ASSERT_NE(set.Find("signer-ec"), nullptr);
  EXPECT_EQ(set.Find("nobody"), nullptr);
  EXPECT_TRUE(VerifyWith(set.Find("signer-ec")).ok());
  EXPECT_TRUE(VerifyWith(set.Find("signer-rsa")).ok());
}

TEST(Signer, CloneForAnotherThread) {
  auto signer = RequestSigner::Create(testing::PkiIdentity("signer-ec"));
  auto clone = signer->Clone();
  ASSERT_TRUE(clone.ok());
  EXPECT_TRUE(clone->Sign("POST", kUrl, "{}", PkiNow()).ok());
}

}  // namespace
}  // namespace dipgate
