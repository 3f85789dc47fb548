#include "common/certificate.h"

#include <gtest/gtest.h>

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
  // The old form, kept for kafka_bridge/: an unknown name gives
  // kUnrecognised, which the trust store refuses.
  EXPECT_EQ(ParseEnvironment("prod"), Environment::kProd);
  EXPECT_EQ(ParseEnvironment("staging"), Environment::kUnrecognised);
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
  CertificateInfo info = DescribeCertificate(certs->front().get());
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
