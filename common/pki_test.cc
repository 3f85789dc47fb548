#include "common/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::RunCommand;

// The openssl CLI, an independent X.509 implementation of the checks,
// agrees with the test PKI's intent.
std::string OpensslVerify(const std::string& leaf, const std::string& crls = "crls.pem") {
  return RunCommand("openssl verify -x509_strict -crl_check_all -CAfile " + PkiFile("ca-bundle.pem") +
             " -CRLfile " + PkiFile(crls) + " " + PkiFile(leaf))
      .output;
}

TEST(TestPki, OpensslAgreesOnEveryCertificate) {
  EXPECT_NE(OpensslVerify("signer-rsa.pem").find(": OK"), std::string::npos);
  EXPECT_NE(OpensslVerify("signer-ec.pem").find(": OK"), std::string::npos);
  EXPECT_NE(OpensslVerify("tls-server.pem").find(": OK"), std::string::npos);
  EXPECT_NE(OpensslVerify("signer-revoked.pem").find("certificate revoked"), std::string::npos);
  EXPECT_NE(OpensslVerify("signer-expired.pem").find("certificate has expired"),
            std::string::npos);
  EXPECT_NE(OpensslVerify("signer-not-yet-valid.pem").find("not yet valid"), std::string::npos);
  EXPECT_NE(OpensslVerify("signer-untrusted.pem").find("unable to get local issuer"),
            std::string::npos);
}

TEST(TestPki, ShapeOfTheDipCa) {
  auto text = RunCommand("openssl x509 -noout -text -in " + PkiFile("root-ca.pem")).output;
  EXPECT_NE(text.find("Public-Key: (4096 bit)"), std::string::npos);
  text = RunCommand("openssl x509 -noout -text -in " + PkiFile("issuing-ca.pem")).output;
  EXPECT_NE(text.find("Public-Key: (4096 bit)"), std::string::npos);
  EXPECT_NE(text.find("CA:TRUE, pathlen:0"), std::string::npos);
  text = RunCommand("openssl x509 -noout -text -in " + PkiFile("signer-rsa.pem")).output;
  EXPECT_NE(text.find("Public-Key: (2048 bit)"), std::string::npos);
  EXPECT_NE(text.find("CN = energydip-nonprod.example.co.uk"), std::string::npos);
  EXPECT_NE(text.find("Digital Signature"), std::string::npos);
  text = RunCommand("openssl x509 -noout -text -in " + PkiFile("signer-ec.pem")).output;
  EXPECT_NE(text.find("NIST CURVE: P-256"), std::string::npos);
  text = RunCommand("openssl x509 -noout -subject -in " + PkiFile("signer-prod.pem")).output;
  EXPECT_NE(text.find("energydip-prod.example.co.uk"), std::string::npos);
}

TEST(TestPki, KeysArePrivateAndPkcs12Opens) {
  struct stat st;
  ASSERT_EQ(stat(PkiFile("signer-rsa.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto r = RunCommand("openssl pkcs12 -in " + PkiFile("signer-rsa.p12") + " -passin file:" +
               PkiFile("passphrase.txt") + " -nokeys -clcerts");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("energydip-nonprod"), std::string::npos);
}

TEST(Csr, CarriesTableFourSubject) {
  std::string dir = testing::NewTempDir("csr");
  CsrOptions o;
  o.key_file = dir + "/k.pem";
  o.csr_file = dir + "/r.csr";
  o.common_name = "energydip-prod.marketparticipant.co.uk";
  o.organization = "Market Participant Ltd";
  o.city = "London";
  o.state = "Greater London";
  o.country = "GB";
  auto ok = CreateCsr(o);
  ASSERT_TRUE(ok.ok()) << ok.error().detail;
  auto r = RunCommand("openssl req -verify -noout -subject -in " + o.csr_file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("C = GB, ST = Greater London, L = London, O = Market Participant Ltd, "
                          "CN = energydip-prod.marketparticipant.co.uk"),
            std::string::npos)
      << r.output;
  o.key_type = "ec";
  ASSERT_TRUE(CreateCsr(o).ok());
  EXPECT_NE(RunCommand("openssl req -noout -text -in " + o.csr_file).output.find("P-256"),
            std::string::npos);
}

TEST(Csr, RefusesBadSubjects) {
  std::string dir = testing::NewTempDir("csr");
  CsrOptions o{dir + "/k.pem", dir + "/r.csr", "rsa", 2048, "marketparticipant.co.uk",
               "MP Ltd", "London", "London", "GB"};
  EXPECT_NE(CreateCsr(o).error().detail.find("energydip-prod."), std::string::npos);
  o.common_name = "energydip-nonprod.mp.co.uk";
  o.country = "GBR";
  EXPECT_NE(CreateCsr(o).error().detail.find("two-letter"), std::string::npos);
  o.country = "GB";
  o.rsa_bits = 1024;
  EXPECT_NE(CreateCsr(o).error().detail.find("2048"), std::string::npos);
}

}  // namespace
}  // namespace dipgate
