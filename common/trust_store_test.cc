#include "common/trust_store.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <thread>

#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::PkiNow;

X509Ptr Cert(const std::string& name) {
  auto certs = LoadCertificates(PkiFile(name + ".pem"));
  EXPECT_TRUE(certs.ok());
  return std::move(certs->front());
}

TrustOptions Options() {
  TrustOptions o;
  o.ca_files = {PkiFile("ca-bundle.pem")};
  o.crl_files = {PkiFile("issuing-ca.crl"), PkiFile("root-ca.crl")};
  return o;
}

void Copy(const std::string& from, const std::string& to) {
  testing::WriteFile(to, testing::ReadFile(from));
}

TEST(TrustStore, FailsClosedOnMissingConfiguration) {
  TrustOptions none;
  auto t = TrustStore::Create(none);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().detail.find("no trusted CA"), std::string::npos);

  TrustOptions no_crl;
  no_crl.ca_files = {PkiFile("ca-bundle.pem")};
  t = TrustStore::Create(no_crl);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().detail.find("no CRL"), std::string::npos);
  no_crl.revocation = Revocation::kOff;  // only when the operator says so
  EXPECT_TRUE(TrustStore::Create(no_crl).ok());

  TrustOptions missing = Options();
  missing.ca_files = {"/nonexistent/ca.pem"};
  t = TrustStore::Create(missing);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().detail.find("cannot read /nonexistent/ca.pem: No such file or directory"),
            std::string::npos)
      << t.error().detail;
  TrustOptions missing_crl = Options();
  missing_crl.crl_files = {"/nonexistent/ca.crl"};
  t = TrustStore::Create(missing_crl);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().detail.find("CRL file: cannot read /nonexistent/ca.crl: No such file or "
                                  "directory"),
            std::string::npos)
      << t.error().detail;

  TrustOptions unrecognised = Options();  // a certificate's state, not a configuration
  unrecognised.environment = Environment::kUnrecognised;
  t = TrustStore::Create(unrecognised);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().detail, "environment must be prod, nonprod or any");

  TrustOptions bad_crl = Options();
  bad_crl.crl_files = {PkiFile("signer-rsa.pem")};
  EXPECT_FALSE(TrustStore::Create(bad_crl).ok());
}

// RFC 5280 4.1.2.5: the validity period includes the notAfter second.
TEST(TrustStore, NotAfterIsInclusive) {
  TrustOptions o = Options();
  o.revocation = Revocation::kOff;  // the test CRLs end long before the certificate
  auto trust = TrustStore::Create(o);
  ASSERT_TRUE(trust.ok());
  X509Ptr leaf = Cert("signer-rsa");
  UnixMillis not_after = ReadCertificateInfo(leaf.get())->not_after;
  EXPECT_TRUE((*trust)->Validate(leaf.get(), nullptr, not_after).ok());
  auto after = (*trust)->Validate(leaf.get(), nullptr, not_after + 1000);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().reason, Reason::kCertificateExpired);
}

// A signer certificate, properly signed by the issuing CA, whose notAfter is
// not a time: refused as malformed, whichever check meets it first.
TEST(TrustStore, ACertificateTimeThatDoesNotDecodeIsRefused) {
  auto trust = TrustStore::Create(Options());
  ASSERT_TRUE(trust.ok()) << trust.error().detail;
  BioPtr key_bio(BIO_new_file(PkiFile("issuing-ca.key").c_str(), "r"));
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(ca_key);
  X509Ptr leaf(X509_dup(Cert("signer-rsa").get()));
  OsslPtr<ASN1_TIME, ASN1_TIME_free> garbage(ASN1_STRING_type_new(V_ASN1_UTCTIME));
  ASN1_STRING_set(garbage.get(), "not a time", 10);
  ASSERT_EQ(X509_set1_notAfter(leaf.get(), garbage.get()), 1);
  ASSERT_GT(X509_sign(leaf.get(), ca_key.get(), EVP_sha256()), 0);
  auto v = (*trust)->Validate(leaf.get(), nullptr, PkiNow());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.reason(), Reason::kCertificateMalformed) << v.error().detail;
  EXPECT_NE(v.error().detail.find("signer certificate"), std::string::npos) << v.error().detail;
  EXPECT_NE(v.error().detail.find("notAfter"), std::string::npos) << v.error().detail;
  EXPECT_EQ(ERR_peek_error(), 0u);
}

// RFC 5280 5.2.3: a CRL without a CRL number is not used; loading says so.
TEST(TrustStore, CrlWithoutNumberIsRefusedAtLoad) {
  std::string dir = testing::NewTempDir("crl-number");
  std::string key = PkiFile("issuing-ca.key"), ca = PkiFile("issuing-ca.pem");
  std::string conf = dir + "/ca.conf";
  testing::WriteFile(conf, "[ca]\ndefault_ca=d\n[d]\ndatabase=" + dir +
                               "/index\ndefault_md=sha256\ndefault_crl_days=7\n");
  testing::WriteFile(dir + "/index", "");
  auto r = testing::RunCommand("openssl ca -gencrl -config " + conf + " -keyfile " + key +
                               " -cert " + ca + " -out " + dir + "/no-number.crl");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  TrustOptions o = Options();
  o.crl_files = {dir + "/no-number.crl", PkiFile("root-ca.crl")};
  auto t = TrustStore::Create(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().detail.find("has no CRL number"), std::string::npos) << t.error().detail;
  EXPECT_NE(t.error().detail.find("DIP Test Issuing CA"), std::string::npos) << t.error().detail;
}

// The path is retried without an untrusted intermediate that failed (here
// a foreign CA offered alongside), so an offered extra never hides the
// valid path; the rejection of a bad path is still reported.
TEST(TrustStore, RetriesWithoutAFailingOfferedIntermediate) {
  auto trust = TrustStore::Create(Options());
  ASSERT_TRUE(trust.ok());
  X509Ptr leaf = Cert("signer-rsa");
  X509StackPtr extra(sk_X509_new_null());
  sk_X509_push(extra.get(), Cert("rogue-ca").release());
  sk_X509_push(extra.get(), Cert("issuing-ca").release());
  EXPECT_TRUE((*trust)->Validate(leaf.get(), extra.get(), PkiNow()).ok());
  X509Ptr untrusted = Cert("signer-untrusted");
  auto v = (*trust)->Validate(untrusted.get(), extra.get(), PkiNow());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().reason, Reason::kCertificateUntrusted);
}

TEST(TrustStore, RelaxedChecksAreNamedForTheOperator) {
  TrustOptions strict;
  strict.environment = Environment::kProd;
  EXPECT_TRUE(RelaxedChecks(strict).empty());
  TrustOptions expired_crl = strict;
  expired_crl.allow_expired_crl = true;
  ASSERT_EQ(RelaxedChecks(expired_crl).size(), 1u);
  EXPECT_NE(RelaxedChecks(expired_crl)[0].find("nextUpdate"), std::string::npos);
  TrustOptions off = strict;
  off.revocation = Revocation::kOff;
  ASSERT_EQ(RelaxedChecks(off).size(), 1u);
  EXPECT_NE(RelaxedChecks(off)[0].find("revocation checking is off"), std::string::npos);
  TrustOptions defaults;  // revocation required; any environment accepted
  ASSERT_EQ(RelaxedChecks(defaults).size(), 1u);
  EXPECT_NE(RelaxedChecks(defaults)[0].find("any environment"), std::string::npos);
}

TEST(TrustStore, ValidatesChainAndReportsValidity) {
  auto t = *TrustStore::Create(Options());
  auto v = t->Validate(Cert("signer-rsa").get(), nullptr, PkiNow());
  ASSERT_TRUE(v.ok()) << v.error().detail;
  EXPECT_EQ(v->info.common_name, "energydip-nonprod.example.co.uk");
  EXPECT_GT(v->valid_until, PkiNow());
  // The cache bound is the earliest of leaf notAfter and CRL nextUpdate.
  EXPECT_LE(v->valid_until, PkiNow() + 7LL * 86400000);
  EXPECT_EQ(v->generation, t->generation());
}

// What monitoring reads: each CA's expiry, each CRL's nextUpdate, the load.
TEST(TrustStore, StatusListsCasAndCrls) {
  UnixMillis before = WallClockMillis();
  auto t = *TrustStore::Create(Options());
  TrustStatus s = t->Status();
  ASSERT_EQ(s.cas.size(), 2u);  // root and issuing CA
  ASSERT_EQ(s.crls.size(), 2u);
  for (const auto& ca : s.cas) {
    EXPECT_NE(ca.subject.find("CN="), std::string::npos) << ca.subject;
    EXPECT_GT(ca.not_after, PkiNow() + 365LL * 86400000) << ca.subject;
  }
  for (const auto& crl : s.crls) {
    EXPECT_NE(crl.issuer.find("CN="), std::string::npos) << crl.issuer;
    EXPECT_GT(crl.next_update, PkiNow());
    EXPECT_LE(crl.next_update, PkiNow() + 7LL * 86400000);
  }
  EXPECT_NE(s.crls[0].issuer, s.crls[1].issuer);
  EXPECT_GE(s.loaded_at, before);
  EXPECT_LE(s.loaded_at, WallClockMillis());
}

TEST(TrustStore, MissingCrlForAnyCaInTheChainFailsClosed) {
  TrustOptions o = Options();
  o.crl_files = {PkiFile("issuing-ca.crl")};  // nothing from the root
  auto t = *TrustStore::Create(o);
  auto v = t->Validate(Cert("signer-rsa").get(), nullptr, PkiNow());
  EXPECT_EQ(v.reason(), Reason::kRevocationUnknown);
}

TEST(TrustStore, ExpiredCrlFailsClosedUnlessAllowed) {
  TrustOptions o = Options();
  o.crl_files = {PkiFile("issuing-ca-expired.crl"), PkiFile("root-ca.crl")};
  auto t = *TrustStore::Create(o);
  EXPECT_EQ(t->Validate(Cert("signer-rsa").get(), nullptr, PkiNow()).reason(),
            Reason::kCrlExpired);
  o.allow_expired_crl = true;
  auto lenient = *TrustStore::Create(o);
  EXPECT_TRUE(lenient->Validate(Cert("signer-rsa").get(), nullptr, PkiNow()).ok());
  // Revocations in an expired CRL still count.
  EXPECT_EQ(lenient->Validate(Cert("signer-revoked").get(), nullptr, PkiNow()).reason(),
            Reason::kCertificateRevoked);
}

TEST(TrustStore, RevocationOffAcceptsRevoked) {
  TrustOptions o;
  o.ca_files = {PkiFile("ca-bundle.pem")};
  o.revocation = Revocation::kOff;
  auto t = *TrustStore::Create(o);
  EXPECT_TRUE(t->Validate(Cert("signer-revoked").get(), nullptr, PkiNow()).ok());
}

TEST(TrustStore, ReloadsChangedCrlWithoutRestart) {
  std::string dir = testing::NewTempDir("reload");
  Copy(PkiFile("issuing-ca-expired.crl"), dir + "/issuing.crl");
  Copy(PkiFile("root-ca.crl"), dir + "/root.crl");
  TrustOptions o = Options();
  o.crl_files = {dir + "/issuing.crl", dir + "/root.crl"};
  o.reload_interval_ms = 1000;
  auto t = *TrustStore::Create(o);
  X509Ptr leaf = Cert("signer-rsa");
  EXPECT_EQ(t->Validate(leaf.get(), nullptr, PkiNow()).reason(), Reason::kCrlExpired);
  uint64_t gen = t->generation();

  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a new mtime
  Copy(PkiFile("issuing-ca.crl"), dir + "/issuing.crl.new");
  ASSERT_EQ(rename((dir + "/issuing.crl.new").c_str(), (dir + "/issuing.crl").c_str()), 0);
  auto first = t->ReloadIfChanged(PkiNow());
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  EXPECT_EQ(t->generation(), gen + 1);
  EXPECT_TRUE(t->Validate(leaf.get(), nullptr, PkiNow()).ok());
  // Checked at most once per interval; unchanged files do not reload.
  EXPECT_FALSE(*t->ReloadIfChanged(PkiNow() + 10));
  EXPECT_FALSE(*t->ReloadIfChanged(PkiNow() + 2000));
  EXPECT_EQ(t->generation(), gen + 1);

  // A broken file keeps the last good state and says why.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::WriteFile(dir + "/issuing.crl", "garbage");
  auto broken = t->ReloadIfChanged(PkiNow() + 4000);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().detail.find("issuing.crl"), std::string::npos);
  EXPECT_TRUE(t->Validate(leaf.get(), nullptr, PkiNow()).ok());
}

TEST(EndEntityProfile, AcceptsDipSigningCertificates) {
  EXPECT_TRUE(CheckEndEntityProfile(Cert("signer-rsa").get()).ok());
  EXPECT_TRUE(CheckEndEntityProfile(Cert("signer-ec").get()).ok());
}

TEST(EndEntityProfile, RejectsCaAndWrongUsage) {
  EXPECT_EQ(CheckEndEntityProfile(Cert("issuing-ca").get()).reason(),
            Reason::kCertificateNotEndEntity);
  EXPECT_EQ(CheckEndEntityProfile(Cert("root-ca").get()).reason(),
            Reason::kCertificateNotEndEntity);
  EXPECT_EQ(CheckEndEntityProfile(Cert("signer-wrong-key-usage").get()).reason(),
            Reason::kWrongKeyUsage);
}

// Certificates OpenSSL's default verification accepts but a DIP relying
// party must not: built with the openssl CLI, signed by the test issuing CA.
class StrictProfileTest : public ::testing::Test {
 protected:
  Reason Issue(const std::string& extra_args, const std::string& ext) {
    std::string dir = testing::NewTempDir("strict");
    std::string cmd =
        "cd " + dir + " && printf '%s' " + testing::ShellQuote(ext) + " > ext.cnf && " +
        "openssl req -new -newkey rsa:2048 -nodes -keyout k.pem -subj "
        "'/CN=energydip-nonprod.example.co.uk/O=Example Energy Ltd' -out r.csr && "
        "openssl x509 -req -in r.csr -CA " + PkiFile("issuing-ca.pem") + " -CAkey " +
        PkiFile("issuing-ca.key") + " -days 30 " + extra_args + " -out c.pem";
    auto r = testing::RunCommand(cmd);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto cert = LoadCertificates(dir + "/c.pem");
    if (!cert) return Reason::kInternalError;
    auto t = *TrustStore::Create(Options());
    return t->Validate(cert->front().get(), nullptr, PkiNow() + 60000).reason();
  }
};

TEST_F(StrictProfileTest, ControlCaseIsAccepted) {
  EXPECT_EQ(Issue("-set_serial 1234 -extfile ext.cnf",
                  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"),
            Reason::kOk);
}

TEST_F(StrictProfileTest, EndEntityWithCaTrue) {
  EXPECT_EQ(Issue("-set_serial 1235 -extfile ext.cnf",
                  "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n"),
            Reason::kCertificateNotEndEntity);
}

TEST_F(StrictProfileTest, VersionOneCertificate) {
  EXPECT_EQ(Issue("-set_serial 1236", ""), Reason::kCertificateMalformed);
}

TEST_F(StrictProfileTest, ZeroSerial) {
  EXPECT_EQ(Issue("-set_serial 0 -extfile ext.cnf",
                  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"),
            Reason::kCertificateMalformed);
}

TEST_F(StrictProfileTest, NegativeSerial) {
  EXPECT_EQ(Issue("-set_serial -5 -extfile ext.cnf",
                  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"),
            Reason::kCertificateMalformed);
}

TEST_F(StrictProfileTest, OverlongSerial) {
  EXPECT_EQ(Issue("-set_serial 0x0102030405060708090a0b0c0d0e0f101112131415 -extfile ext.cnf",
                  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"),
            Reason::kCertificateMalformed);
}

TEST_F(StrictProfileTest, NoKeyUsage) {
  EXPECT_EQ(Issue("-set_serial 1237 -extfile ext.cnf", "basicConstraints=critical,CA:FALSE\n"),
            Reason::kWrongKeyUsage);
}

TEST_F(StrictProfileTest, KeyCertSignOnLeaf) {
  EXPECT_EQ(Issue("-set_serial 1238 -extfile ext.cnf",
                  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,"
                  "keyCertSign\n"),
            Reason::kCertificateNotEndEntity);
}

}  // namespace
}  // namespace dipgate
