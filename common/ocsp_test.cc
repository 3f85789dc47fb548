#include "common/ocsp.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/certificate.h"
#include "common/ossl.h"
#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::ReadFile;
using testing::RunCommand;
using testing::WriteFile;

X509Ptr Cert(const std::string& path) {
  auto certs = LoadCertificates(path);
  EXPECT_TRUE(certs.ok()) << path;
  return std::move(certs->front());
}

std::string Serial(const std::string& pem) {
  auto r = RunCommand("openssl x509 -noout -serial -in " + pem);
  return r.output.substr(r.output.find('=') + 1, r.output.find('\n') - r.output.find('=') - 1);
}

// `openssl ocsp` as a responder over an index of its own (good: signer-rsa;
// revoked: signer-revoked), answering for the test PKI's issuing CA, signed
// by `signer` (a delegated responder certificate, or any other).
class Responder {
 public:
  Responder(const std::string& dir, const std::string& signer, const std::string& key) {
    WriteFile(dir + "/index.txt",
              "V\t301231235959Z\t\t" + Serial(PkiFile("signer-rsa.pem")) + "\tunknown\t/CN=good\n"
              "R\t301231235959Z\t261201100000Z,keyCompromise\t" +
                  Serial(PkiFile("signer-revoked.pem")) + "\tunknown\t/CN=revoked\n");
    port_ = testing::FreePort();
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen((dir + "/responder.log").c_str(), "a", stderr);
      f = freopen((dir + "/responder.log").c_str(), "a", stdout);
      (void)f;
      std::string port = std::to_string(port_);
      execlp("openssl", "openssl", "ocsp", "-index", (dir + "/index.txt").c_str(), "-port",
             port.c_str(), "-rsigner", signer.c_str(), "-rkey", key.c_str(), "-CA",
             PkiFile("issuing-ca.pem").c_str(), "-ndays", "1", nullptr);
      _exit(127);
    }
    dir_ = dir;
  }
  ~Responder() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // POSTs the request; the response's bytes ("" when none came).
  std::string Ask(const OcspRequest& request) {
    WriteFile(dir_ + "/req.der", request.der);
    std::string cmd = "curl -s --retry 20 --retry-connrefused --retry-delay 0 --max-time 5 "
                      "-H 'Content-Type: application/ocsp-request' --data-binary @" + dir_ +
                      "/req.der -o " + dir_ + "/resp.der http://127.0.0.1:" +
                      std::to_string(port_) + "/";
    unlink((dir_ + "/resp.der").c_str());
    auto r = RunCommand(cmd);
    EXPECT_EQ(r.exit_code, 0) << r.output << ReadFile(dir_ + "/responder.log");
    return ReadFile(dir_ + "/resp.der");
  }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class OcspTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("ocsp");
    // A delegated responder: id-kp-OCSPSigning, issued by the issuing CA,
    // with an AIA naming an OCSP responder (for OcspResponderOf).
    WriteFile(dir_ + "/ext", "extendedKeyUsage=OCSPSigning\nkeyUsage=critical,digitalSignature\n"
                             "authorityInfoAccess=OCSP;URI:http://ocsp.example.invalid/dip\n");
    auto made = RunCommand(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + dir_ +
        "/ocsp.key -subj '/CN=DIP OCSP responder' -out " + dir_ + "/ocsp.csr && "
        "openssl x509 -req -in " + dir_ + "/ocsp.csr -CA " + PkiFile("issuing-ca.pem") +
        " -CAkey " + PkiFile("issuing-ca.key") + " -set_serial 0x5001 -days 30 -extfile " + dir_ +
        "/ext -out " + dir_ + "/ocsp.pem");
    ASSERT_EQ(made.exit_code, 0) << made.output;
    issuer_ = Cert(PkiFile("issuing-ca.pem"));
    trust_.reset(X509_STORE_new());
    ASSERT_EQ(X509_STORE_load_file(trust_.get(), PkiFile("ca-bundle.pem").c_str()), 1);
  }

  OcspStatus Check(Responder& responder, const std::string& leaf, bool nonce = false,
                   UnixMillis now = WallClockMillis(), OcspOptions options = {}) {
    X509Ptr cert = Cert(PkiFile(leaf));
    auto request = MakeOcspRequest(cert.get(), issuer_.get(), nonce);
    EXPECT_TRUE(request.ok());
    std::string der = responder.Ask(*request);
    return CheckOcspResponse(der, *request, cert.get(), issuer_.get(), trust_.get(), now, options);
  }

  std::string dir_;
  X509Ptr issuer_;
  X509StorePtr trust_;
};

TEST_F(OcspTest, GoodRevokedAndUnknownFromARealResponder) {
  Responder responder(dir_, dir_ + "/ocsp.pem", dir_ + "/ocsp.key");
  OcspStatus good = Check(responder, "signer-rsa.pem");
  EXPECT_EQ(good.reason, Reason::kOk) << good.detail;
  EXPECT_GT(good.next_update, good.this_update);
  EXPECT_LE(good.next_update - good.this_update, 86400000 + 1000);

  OcspStatus revoked = Check(responder, "signer-revoked.pem");
  EXPECT_EQ(revoked.reason, Reason::kCertificateRevoked) << revoked.detail;
  EXPECT_EQ(revoked.revocation_reason, "keyCompromise");
  EXPECT_EQ(FormatSignatureDate(revoked.revoked_at), "2026-12-01T10:00:00.000Z");
  EXPECT_NE(revoked.detail.find("revoked (OCSP) at 2026-12-01T10:00:00.000Z, reason keyCompromise"),
            std::string::npos) << revoked.detail;

  OcspStatus unknown = Check(responder, "signer-ec.pem");
  EXPECT_EQ(unknown.reason, Reason::kOcspUnknown) << unknown.detail;
  EXPECT_EQ(ToString(unknown.reason), "ocsp_unknown");
}

TEST_F(OcspTest, NoncesAreChecked) {
  Responder responder(dir_, dir_ + "/ocsp.pem", dir_ + "/ocsp.key");
  EXPECT_EQ(Check(responder, "signer-rsa.pem", /*nonce=*/true).reason, Reason::kOk);
  // A response to another request (its own nonce) is refused.
  X509Ptr cert = Cert(PkiFile("signer-rsa.pem"));
  auto first = MakeOcspRequest(cert.get(), issuer_.get(), true);
  auto second = MakeOcspRequest(cert.get(), issuer_.get(), true);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->key, second->key);  // the same certificate ID, so the same cache entry
  EXPECT_NE(first->der, second->der);  // not the same nonce
  std::string answer = responder.Ask(*first);
  OcspStatus mismatch =
      CheckOcspResponse(answer, *second, cert.get(), issuer_.get(), trust_.get(), WallClockMillis());
  EXPECT_EQ(mismatch.reason, Reason::kOcspResponseInvalid);
  EXPECT_NE(mismatch.detail.find("nonce is not the request's"), std::string::npos) << mismatch.detail;
  // A response without a nonce to a request with one: accepted unless
  // required (responders serving pre-produced answers echo none).
  auto plain = MakeOcspRequest(cert.get(), issuer_.get(), false);
  std::string no_nonce = responder.Ask(*plain);
  EXPECT_TRUE(CheckOcspResponse(no_nonce, *first, cert.get(), issuer_.get(), trust_.get(),
                                WallClockMillis()).ok());
  OcspOptions strict;
  strict.require_nonce = true;
  OcspStatus required = CheckOcspResponse(no_nonce, *first, cert.get(), issuer_.get(),
                                          trust_.get(), WallClockMillis(), strict);
  EXPECT_EQ(required.reason, Reason::kOcspResponseInvalid);
  EXPECT_NE(required.detail.find("no nonce"), std::string::npos) << required.detail;
}

TEST_F(OcspTest, AStaleOrFutureAnswerIsRefused) {
  Responder responder(dir_, dir_ + "/ocsp.pem", dir_ + "/ocsp.key");
  UnixMillis now = WallClockMillis();
  OcspStatus stale = Check(responder, "signer-rsa.pem", false, now + 2 * 86400000LL);
  EXPECT_EQ(stale.reason, Reason::kOcspResponseInvalid);
  EXPECT_NE(stale.detail.find("stale: nextUpdate"), std::string::npos) << stale.detail;
  OcspStatus early = Check(responder, "signer-rsa.pem", false, now - 3600000);
  EXPECT_EQ(early.reason, Reason::kOcspResponseInvalid);
  EXPECT_NE(early.detail.find("is ahead of now"), std::string::npos) << early.detail;
  // Within the skew both ways.
  EXPECT_TRUE(Check(responder, "signer-rsa.pem", false, now - 60000).ok());
}

// Signed by a certificate of the right CA that is not an OCSP responder
// (no id-kp-OCSPSigning): refused, whatever it says.
TEST_F(OcspTest, AResponseFromAnUnauthorisedSignerIsRefused) {
  Responder impostor(dir_, PkiFile("tls-server.pem"), PkiFile("tls-server.key"));
  OcspStatus s = Check(impostor, "signer-revoked.pem");
  EXPECT_EQ(s.reason, Reason::kOcspResponseInvalid);
  EXPECT_NE(s.detail.find("signature does not verify, or its signer"), std::string::npos)
      << s.detail;
}

TEST_F(OcspTest, MalformedAndUnsuccessfulResponses) {
  X509Ptr cert = Cert(PkiFile("signer-rsa.pem"));
  auto request = MakeOcspRequest(cert.get(), issuer_.get(), false);
  ASSERT_TRUE(request.ok());
  for (std::string junk : {std::string(), std::string("not DER"), request->der}) {
    OcspStatus s = CheckOcspResponse(junk, *request, cert.get(), issuer_.get(), trust_.get(),
                                     WallClockMillis());
    EXPECT_EQ(s.reason, Reason::kOcspResponseInvalid) << junk.size();
    EXPECT_NE(s.detail.find("not a DER OCSPResponse"), std::string::npos) << s.detail;
  }
  // tryLater: the responder's own trouble, our side's fault to the sender.
  OsslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free> later(
      OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, nullptr));
  unsigned char* der = nullptr;
  int n = i2d_OCSP_RESPONSE(later.get(), &der);
  ASSERT_GT(n, 0);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  OcspStatus s = CheckOcspResponse(bytes, *request, cert.get(), issuer_.get(), trust_.get(),
                                   WallClockMillis());
  EXPECT_EQ(s.reason, Reason::kOcspUnavailable);
  EXPECT_TRUE(IsOwnFault(s.reason));
  EXPECT_NE(s.detail.find("trylater"), std::string::npos) << s.detail;
}

TEST_F(OcspTest, TheResponderAddressComesFromTheCertificate) {
  X509Ptr responder = Cert(dir_ + "/ocsp.pem");
  EXPECT_EQ(OcspResponderOf(responder.get()), "http://ocsp.example.invalid/dip");
  X509Ptr none = Cert(PkiFile("signer-rsa.pem"));
  EXPECT_EQ(OcspResponderOf(none.get()), "");
}

TEST(OcspCache, KeepsAnswersUntilNextUpdateCappedByTheMaximumAge) {
  OcspCache cache(3600000);  // 1 h
  OcspStatus good;
  good.reason = Reason::kOk;
  good.this_update = 1000;
  good.next_update = 1000 + 600000;  // 10 min
  cache.Put("a", good, 1000);
  ASSERT_TRUE(cache.Get("a", 1000 + 599999).has_value());
  EXPECT_FALSE(cache.Get("a", 1000 + 600000).has_value());
  EXPECT_FALSE(cache.NeedsRefresh("a", 1000 + 500000));
  EXPECT_TRUE(cache.NeedsRefresh("a", 1000 + 540000));  // the last tenth
  EXPECT_TRUE(cache.NeedsRefresh("b", 0));
  OcspStatus long_lived = good;
  long_lived.next_update = 1000 + 86400000;  // a day: capped at the hour
  cache.Put("c", long_lived, 1000);
  EXPECT_TRUE(cache.Get("c", 1000 + 3599999).has_value());
  EXPECT_FALSE(cache.Get("c", 1000 + 3600000).has_value());
  OcspStatus failed;
  failed.reason = Reason::kOcspUnavailable;
  cache.Put("d", failed, 1000);  // no answer is never kept
  EXPECT_FALSE(cache.Get("d", 1000).has_value());
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace dipgate
