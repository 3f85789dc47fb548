// dipctl end to end: each command, its output and its exit code.
#include <gtest/gtest.h>

#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::Runfile;
using testing::WriteFile;

std::string Dipctl() { return Runfile("cli/dipctl"); }

const char kUrl[] = "https://dip.example.co.uk/api/v1/IF-041";

std::string Trust() {
  return " --ca " + PkiFile("ca-bundle.pem") + " --crl " + PkiFile("crls.pem") + " --env nonprod";
}

class DipctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("dipctl");
    body_ = dir_ + "/body.json";
    WriteFile(body_, ReadFile(Runfile("tests/data/if-041-reading-cos.json")));
  }
  testing::CommandResult Sign(const std::string& identity, const std::string& extra = "") {
    return RunCommand(Dipctl() + " sign --cert " + PkiFile(identity + ".pem") + " --key " +
                      PkiFile(identity + ".key") + " --url " + kUrl + " --body " + body_ +
                      extra);
  }
  testing::CommandResult Verify(const std::string& headers, const std::string& extra = "") {
    WriteFile(dir_ + "/headers", headers);
    return RunCommand(Dipctl() + " verify --url " + kUrl + " --headers " + dir_ +
                      "/headers --body " + body_ + Trust() + extra);
  }
  std::string dir_, body_;
};

// Every command's --help prints that command's usage (not "option --help
// needs a value") and exits 0; an unknown command still says so.
TEST(DipctlHelp, EveryCommandPrintsItsOwnUsage) {
  for (const char* command : {"sign", "verify", "inspect", "pki", "csr", "validate", "send",
                              "pubconfig", "replay", "requeue", "statusmessage"}) {
    for (const char* flag : {"--help", "-h"}) {
      auto r = RunCommand(Dipctl() + " " + command + " --body x " + flag);
      EXPECT_EQ(r.exit_code, 0) << command << " " << flag << ": " << r.output;
      EXPECT_EQ(r.output.find("needs a value"), std::string::npos) << r.output;
      EXPECT_NE(r.output.find(std::string("usage: dipctl ") + command + " [options]"),
                std::string::npos)
          << r.output;
      EXPECT_NE(r.output.find(std::string("\n  ") + command + " "), std::string::npos)
          << r.output;
      EXPECT_NE(r.output.find("Exit codes:"), std::string::npos) << r.output;
    }
  }
  auto validate = RunCommand(Dipctl() + " validate --help");
  EXPECT_EQ(validate.output.find("  send "), std::string::npos) << "only validate's lines";
  auto requeue = RunCommand(Dipctl() + " requeue --help");
  EXPECT_NE(requeue.output.find("  replay   --channel"), std::string::npos) << requeue.output;
  auto unknown = RunCommand(Dipctl() + " frobnicate --help");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST_F(DipctlTest, SignThenVerify) {
  auto s = Sign("signer-rsa");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_NE(s.output.find("X-DIP-Signature: "), std::string::npos);
  EXPECT_NE(s.output.find("X-DIP-Content-Hash: "), std::string::npos);
  auto v = Verify(s.output);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("ok: signature valid"), std::string::npos);
  EXPECT_NE(v.output.find("environment: nonprod"), std::string::npos);
}

TEST_F(DipctlTest, VerifyPrintsReasonAndExitsOne) {
  auto s = Sign("signer-ec");
  ASSERT_EQ(s.exit_code, 0);
  WriteFile(body_, "{\"changed\":true}");
  auto v = Verify(s.output);
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.output.find("rejected: content_hash_mismatch (X-DIP-Content-Hash)"),
            std::string::npos)
      << v.output;
}

TEST_F(DipctlTest, VerifyRefusesDuplicateHeader) {
  auto s = Sign("signer-rsa");
  std::string doubled = s.output + s.output.substr(0, s.output.find('\n') + 1);
  auto v = Verify(doubled);
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.output.find("duplicate_header (X-DIP-Signature)"), std::string::npos) << v.output;
}

TEST_F(DipctlTest, VerifyRevokedAndWrongEnvironment) {
  auto revoked = Verify(Sign("signer-revoked").output);
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_NE(revoked.output.find("certificate_revoked"), std::string::npos) << revoked.output;
  auto prod = Verify(Sign("signer-prod").output);
  EXPECT_EQ(prod.exit_code, 1);
  EXPECT_NE(prod.output.find("wrong_environment"), std::string::npos) << prod.output;
}

// Revocation is checked unless switched off, and switching it off is said.
TEST_F(DipctlTest, NoRevocationAcceptsRevokedWithAWarning) {
  auto v = Verify(Sign("signer-revoked").output, " --no-revocation");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("dipctl: warning: revocation checking is off"), std::string::npos)
      << v.output;
  auto strict = Verify(Sign("signer-rsa").output);
  EXPECT_EQ(strict.output.find("warning"), std::string::npos) << strict.output;
}

TEST_F(DipctlTest, SignAsCurlCommandRuns) {
  auto s = Sign("signer-rsa", " --format curl --api-key primary-key");
  ASSERT_EQ(s.exit_code, 0);
  EXPECT_EQ(s.output.rfind("curl --fail-with-body -X POST 'https://dip.example.co.uk", 0), 0u)
      << s.output;
  EXPECT_NE(s.output.find("-H 'X-API-KEY: primary-key'"), std::string::npos);
  EXPECT_NE(s.output.find("--data-binary @'" + body_ + "'"), std::string::npos);
  // The command is valid shell: bash parses it without running curl.
  WriteFile(dir_ + "/cmd.sh", s.output);
  EXPECT_EQ(RunCommand("bash -n " + dir_ + "/cmd.sh").exit_code, 0);
}

TEST_F(DipctlTest, SignFromPkcs12AndJson) {
  auto s = RunCommand(Dipctl() + " sign --pkcs12 " + PkiFile("signer-rsa.p12") +
                      " --passphrase-file " + PkiFile("passphrase.txt") + " --url " + kUrl +
                      " --body " + body_ + " --format json");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_EQ(s.output.rfind("{\"X-DIP-Signature\": \"", 0), 0u) << s.output;
}

TEST_F(DipctlTest, InspectHeadersShowsSignerAndChain) {
  auto s = Sign("signer-ec");
  WriteFile(dir_ + "/headers", s.output);
  auto r = RunCommand(Dipctl() + " inspect --headers " + dir_ + "/headers" + Trust());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(ECDSA DER)"), std::string::npos);
  EXPECT_NE(r.output.find("environment:  nonprod"), std::string::npos);
  EXPECT_NE(r.output.find("chain:        trusted"), std::string::npos);
  EXPECT_NE(r.output.find("days left"), std::string::npos);
}

TEST_F(DipctlTest, InspectCertificateFindsFaults) {
  auto r = RunCommand(Dipctl() + " inspect --cert " + PkiFile("signer-expired.pem") + Trust());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("EXPIRED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("certificate_expired"), std::string::npos) << r.output;
  r = RunCommand(Dipctl() + " inspect --cert " + PkiFile("signer-wrong-key-usage.pem"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("wrong_key_usage"), std::string::npos) << r.output;
}

TEST_F(DipctlTest, WarnsWithinThirtyDaysOfExpiry) {
  // signer-rsa expires 397 days after the PKI was made: sign 380 days on.
  auto r = Sign("signer-rsa", " --date " + FormatSignatureDate(testing::PkiNow() + 380LL * 86400000 + 1000));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("warning: certificate energydip-nonprod.example.co.uk expires in 16 days"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(Sign("signer-rsa").output.find("warning"), std::string::npos);
}

TEST_F(DipctlTest, PkiAndCsr) {
  auto r = RunCommand(Dipctl() + " csr --key-out " + dir_ + "/k.pem --csr-out " + dir_ +
                      "/r.csr --cn energydip-nonprod.mp.co.uk --org 'MP Ltd' --city Leeds "
                      "--state 'West Yorkshire' --country GB --key-type ec");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(RunCommand("openssl req -verify -noout -in " + dir_ + "/r.csr").exit_code, 0);
  r = RunCommand(Dipctl() + " csr --key-out " + dir_ + "/k.pem --csr-out " + dir_ +
                 "/r.csr --cn mp.co.uk --org X --city Y --state Z --country GB");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("energydip-prod."), std::string::npos);
  r = RunCommand(Dipctl() + " pki --out " + dir_ + "/pki --domain mp.co.uk");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(RunCommand("openssl x509 -noout -subject -in " + dir_ + "/pki/signer-rsa.pem").output
                .find("energydip-nonprod.mp.co.uk"),
            std::string::npos);
}

TEST_F(DipctlTest, UsageErrorsAreClear) {
  auto r = RunCommand(Dipctl());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no command given"), std::string::npos);
  r = RunCommand(Dipctl() + " frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown command 'frobnicate'"), std::string::npos);
  r = RunCommand(Dipctl() + " sign --url x --cert a.pem --key b.pem --colour red");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown option --colour"), std::string::npos);
  r = RunCommand(Dipctl() + " verify --url x --headers /dev/null");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--ca is required"), std::string::npos);
  r = RunCommand(Dipctl() + " sign --url x --cert /nonexistent.pem --key /nonexistent.key");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("/nonexistent.pem"), std::string::npos);
  r = RunCommand(Dipctl() + " verify --url x --headers /dev/null --ca " +
                 PkiFile("ca-bundle.pem"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.output.find("no CRL file configured"), std::string::npos) << r.output;
  r = RunCommand(Dipctl() + " sign --url x --cert a --key b --date tomorrow");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--date 'tomorrow'"), std::string::npos);
}

}  // namespace
}  // namespace dipgate

namespace dipgate {
namespace {

// --window's number is read in place (a use-after-scope here once; ASan
// runs this test).
TEST_F(DipctlTest, VerifyWindowMustBeAPositiveNumber) {
  auto s = Sign("signer-rsa");
  ASSERT_EQ(s.exit_code, 0);
  EXPECT_EQ(Verify(s.output, " --window 600").exit_code, 0);
  auto bad = Verify(s.output, " --window 60x");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--window must be a positive number of seconds"), std::string::npos);
}

}  // namespace
}  // namespace dipgate

namespace dipgate {
namespace {

// inspect says what it checked: a relaxed check is not reported as done.
TEST_F(DipctlTest, InspectSaysWhichChecksRan) {
  std::string base = Dipctl() + " inspect --cert " + PkiFile("signer-rsa.pem") + " --ca " +
                     PkiFile("ca-bundle.pem");
  auto full = RunCommand(base + " --crl " + PkiFile("crls.pem") + " --env nonprod");
  EXPECT_EQ(full.exit_code, 0) << full.output;
  EXPECT_NE(full.output.find("chain:        trusted (chain, validity, revocation, environment "
                             "nonprod checked)\n"),
            std::string::npos) << full.output;
  auto relaxed = RunCommand(base + " --no-revocation");
  EXPECT_EQ(relaxed.exit_code, 0) << relaxed.output;
  EXPECT_NE(relaxed.output.find("chain:        trusted (chain, validity checked)\n"),
            std::string::npos) << relaxed.output;
  auto revoked = RunCommand(Dipctl() + " inspect --cert " + PkiFile("signer-revoked.pem") +
                            " --ca " + PkiFile("ca-bundle.pem") + " --crl " + PkiFile("crls.pem"));
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_NE(revoked.output.find("chain:        certificate_revoked: "), std::string::npos)
      << revoked.output;
  // The issue 12 report: the chain line ended without its newline and the
  // environment warning came twice. One line, one warning.
  EXPECT_NE(revoked.output.find(
                "chain:        certificate_revoked: signer certificate: certificate revoked\n"),
            std::string::npos)
      << revoked.output;
  const std::string warning = "dipctl: warning: any environment prefix is accepted";
  size_t first = revoked.output.find(warning);
  ASSERT_NE(first, std::string::npos) << revoked.output;
  EXPECT_EQ(revoked.output.find(warning, first + 1), std::string::npos) << revoked.output;
}

}  // namespace
}  // namespace dipgate
