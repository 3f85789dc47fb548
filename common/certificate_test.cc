#include "common/certificate.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "common/base64.h"
#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;

TEST(Certificate, EnvironmentFromCommonName) {
  EXPECT_EQ(EnvironmentOfCommonName("energydip-prod.mp.co.uk"), Environment::kProd);
  EXPECT_EQ(EnvironmentOfCommonName("EnergyDIP-NonProd.mp.co.uk"), Environment::kNonProd);
  EXPECT_EQ(EnvironmentOfCommonName("energydip-production.mp.co.uk"), Environment::kUnrecognised);
  EXPECT_EQ(EnvironmentOfCommonName("mp.co.uk"), Environment::kUnrecognised);
  EXPECT_EQ(EnvironmentOfCommonName("x.energydip-prod.mp.co.uk"), Environment::kUnrecognised);
}

TEST(Certificate, EnvironmentFromConfiguredName) {
  EXPECT_EQ(*EnvironmentFromName("prod"), Environment::kProd);
  EXPECT_EQ(*EnvironmentFromName("nonprod"), Environment::kNonProd);
  EXPECT_EQ(*EnvironmentFromName("any"), Environment::kAny);
  for (const char* bad : {"staging", "", "PROD", "unknown", "prod "}) {
    auto env = EnvironmentFromName(bad);
    ASSERT_FALSE(env.ok()) << bad;
    EXPECT_EQ(env.reason(), Reason::kInternalError);
    EXPECT_EQ(env.error().detail,
              std::string("environment must be prod, nonprod or any, not '") + bad + "'");
  }
  // The word for a certificate without a recognised prefix is not a name
  // that configures anything.
  EXPECT_EQ(ToString(Environment::kUnrecognised), "unknown");
  EXPECT_FALSE(EnvironmentFromName(ToString(Environment::kUnrecognised)).ok());
}

TEST(Certificate, DecodesDerAndPemHeaders) {
  std::string pem = testing::ReadFile(PkiFile("signer-ec.pem"));
  auto from_pem = DecodeCertificateHeader(Base64Encode(pem));
  ASSERT_TRUE(from_pem.ok());
  std::string header = EncodeCertificateHeader(from_pem->leaf.get());
  auto from_der = DecodeCertificateHeader(header);
  ASSERT_TRUE(from_der.ok());
  EXPECT_EQ(from_der->der, from_pem->der);
  EXPECT_EQ(Base64Encode(from_der->der), header);
}

TEST(Certificate, DescribesSigner) {
  auto certs = LoadCertificates(PkiFile("signer-ec.pem"));
  ASSERT_TRUE(certs.ok());
  auto read = ReadCertificateInfo(certs->front().get());
  ASSERT_TRUE(read.ok()) << read.error().detail;
  const CertificateInfo& info = *read;
  EXPECT_EQ(info.common_name, "energydip-nonprod.example.co.uk");
  EXPECT_EQ(info.organization, "Example Energy Ltd");
  EXPECT_NE(info.subject.find("CN=energydip-nonprod.example.co.uk"), std::string::npos);
  EXPECT_NE(info.issuer.find("DIP Test Issuing CA"), std::string::npos);
  EXPECT_EQ(info.key_description, "ECDSA prime256v1");
  EXPECT_EQ(info.environment, Environment::kNonProd);
  EXPECT_NEAR(static_cast<double>(info.not_after - info.not_before), 398.0 * 86400000, 1000);
  // Fingerprint agrees with the openssl CLI.
  auto r = testing::RunCommand("openssl x509 -noout -fingerprint -sha256 -in " + PkiFile("signer-ec.pem"));
  std::string fp;
  for (char c : r.output.substr(r.output.find('=') + 1)) {
    if (isxdigit(static_cast<unsigned char>(c))) fp.push_back(static_cast<char>(tolower(c)));
  }
  EXPECT_EQ(info.fingerprint, fp);
}

// An ASN1 time of the given type holding `text` as is (no validation).
OsslPtr<ASN1_TIME, ASN1_TIME_free> RawTime(int type, const std::string& text) {
  OsslPtr<ASN1_TIME, ASN1_TIME_free> t(ASN1_STRING_type_new(type));
  ASN1_STRING_set(t.get(), text.data(), static_cast<int>(text.size()));
  return t;
}

TEST(Certificate, Asn1TimeToMillisDecodesOrSaysWhy) {
  auto utc = RawTime(V_ASN1_UTCTIME, "250102030405Z");
  auto ok = Asn1TimeToMillis(utc.get());
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  EXPECT_EQ(*ok, *ParseSignatureDate("2025-01-02T03:04:05Z"));
  auto generalized = RawTime(V_ASN1_GENERALIZEDTIME, "20500630235959Z");
  ASSERT_TRUE(Asn1TimeToMillis(generalized.get()).ok());
  EXPECT_EQ(*Asn1TimeToMillis(generalized.get()), *ParseSignatureDate("2050-06-30T23:59:59Z"));

  auto absent = Asn1TimeToMillis(nullptr);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.reason(), Reason::kCertificateMalformed);
  EXPECT_EQ(absent.error().detail, "time is absent");
  for (const char* bad : {"garbage", "", "251302030405Z", "25010203Z"}) {
    auto t = RawTime(V_ASN1_UTCTIME, bad);
    auto r = Asn1TimeToMillis(t.get());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.reason(), Reason::kCertificateMalformed) << bad;
    EXPECT_EQ(r.error().detail, "time does not decode") << bad;
  }
  EXPECT_EQ(ERR_peek_error(), 0u);  // nothing left on OpenSSL's error queue
}

TEST(Certificate, ACertificateWhoseTimeDoesNotDecodeHasNoInfo) {
  auto certs = LoadCertificates(PkiFile("signer-ec.pem"));
  ASSERT_TRUE(certs.ok());
  X509Ptr broken(X509_dup(certs->front().get()));
  auto garbage = RawTime(V_ASN1_UTCTIME, "not a time");
  ASSERT_EQ(X509_set1_notAfter(broken.get(), garbage.get()), 1);
  auto info = ReadCertificateInfo(broken.get());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.reason(), Reason::kCertificateMalformed);
  EXPECT_EQ(info.error().detail, "notAfter: time does not decode");

  X509Ptr broken_start(X509_dup(certs->front().get()));
  ASSERT_EQ(X509_set1_notBefore(broken_start.get(), garbage.get()), 1);
  info = ReadCertificateInfo(broken_start.get());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().detail, "notBefore: time does not decode");
}

TEST(Certificate, LoadCertificatesReadsBundles) {
  auto certs = LoadCertificates(PkiFile("ca-bundle.pem"));
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(certs->size(), 2u);
  auto missing = LoadCertificates("/nonexistent.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().detail,
            "certificate file: cannot read /nonexistent.pem: No such file or directory");
  EXPECT_FALSE(LoadCertificates(PkiFile("passphrase.txt")).ok());
}

}  // namespace
}  // namespace dipgate
