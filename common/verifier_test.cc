#include "common/verifier.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/base64.h"
#include "common/digest.h"
#include "common/headers.h"
#include "common/signature.h"
#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::PkiFile;
using testing::PkiNow;
using testing::PkiTrust;
using testing::SignedMessage;
using testing::SignWith;

const char kUrl[] = "https://dip.example.co.uk/api/v1/IF-033";
const char kBody[] = R"({"CommonBlock":{"S0":{"interfaceID":"IF-033"}}})";

class VerifierTest : public ::testing::Test {
 protected:
  Verdict Check(const SignedRequest& r, UnixMillis now = PkiNow()) { return v_.Verify(r, now); }
  Verdict Check(const SignedMessage& m, UnixMillis now = PkiNow()) {
    return v_.Verify(m.request(), now);
  }
  Verifier v_{PkiTrust(), VerifyPolicy{}};
};

TEST_F(VerifierTest, AcceptsRsaAndReportsSigner) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  Verdict v = Check(m);
  ASSERT_TRUE(v.ok()) << v.detail;
  ASSERT_NE(v.signer, nullptr);
  EXPECT_EQ(v.signer->common_name, "energydip-nonprod.example.co.uk");
  EXPECT_EQ(v.signer->organization, "Example Energy Ltd");
  EXPECT_EQ(v.signer->environment, Environment::kNonProd);
  EXPECT_EQ(v.signer->fingerprint.size(), 64u);
  EXPECT_EQ(v.signature_date, PkiNow());
}

TEST_F(VerifierTest, AcceptsEcdsaDerAndP1363) {
  SignedMessage m = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow());
  EXPECT_TRUE(Check(m).ok());
  auto converted = EcdsaDerToP1363(*Base64Decode(m.headers.signature));
  ASSERT_TRUE(converted.ok()) << converted.error().detail;
  std::string p1363 = *converted;
  ASSERT_EQ(p1363.size(), 64u);
  m.headers.signature = Base64Encode(p1363);
  Verdict v = Check(m);
  EXPECT_TRUE(v.ok()) << v.detail;
}

TEST_F(VerifierTest, AcceptsCertificateHeaderAsBase64OfPem) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  std::string pem = testing::ReadFile(PkiFile("signer-rsa.pem"));
  m.headers.certificate = Base64Encode(pem);
  EXPECT_TRUE(Check(m).ok());
  // The Go simulator reads the PEM file and may carry CRLF line ends.
  std::string crlf;
  for (char c : pem) {
    if (c == '\n') crlf += "\r\n";
    else crlf.push_back(c);
  }
  m.headers.certificate = Base64Encode(crlf);
  EXPECT_TRUE(Check(m).ok());
}

TEST_F(VerifierTest, AcceptsPemHeaderCarryingItsIntermediate) {
  // Trust only the root: the intermediate arrives with the message.
  TrustOptions o;
  o.ca_files = {PkiFile("root-ca.pem")};
  o.crl_files = {PkiFile("crls.pem")};
  Verifier v(*TrustStore::Create(o), VerifyPolicy{});
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  EXPECT_EQ(v.Verify(m.request(), PkiNow()).reason, Reason::kCertificateUntrusted);
  m.headers.certificate = Base64Encode(testing::ReadFile(PkiFile("signer-rsa.pem")) +
                                       testing::ReadFile(PkiFile("issuing-ca.pem")));
  Verdict verdict = v.Verify(m.request(), PkiNow());
  EXPECT_TRUE(verdict.ok()) << verdict.detail;
}

TEST_F(VerifierTest, AcceptsDateExactlyAsSentInOtherFormats) {
  auto id = testing::PkiIdentity("signer-rsa");
  
  auto raw = std::move(*SignatureSigner::Create(id->key.get()));
  for (const char* suffix : {"1234567Z", "123:Z", "123+00:00", "1Z"}) {
    std::string date = FormatSignatureDate(PkiNow()).substr(0, 20) + suffix;
    SignedMessage m{"POST", kUrl, kBody, {}};
    m.headers.content_hash = ContentHash(kBody);
    m.headers.signature_date = date;
    m.headers.certificate = id->certificate_header;
    m.headers.signature =
        Base64Encode(*raw.Sign(SignatureString("POST", kUrl, date, m.headers.content_hash)));
    Verdict v = Check(m);
    EXPECT_TRUE(v.ok()) << date << ": " << v.detail;
    // The same instant written differently is a different signature string.
    m.headers.signature_date = FormatSignatureDate(*ParseSignatureDate(date));
    if (m.headers.signature_date != date) {
      EXPECT_EQ(Check(m).reason, Reason::kSignatureMismatch) << date;
    }
  }
}

TEST_F(VerifierTest, AcceptsDotNetPathCasePreserved) {
  auto id = testing::PkiIdentity("signer-rsa");
  auto raw = std::move(*SignatureSigner::Create(id->key.get()));
  std::string date = FormatSignatureDate(PkiNow());
  std::string hash = ContentHash(kBody);
  // .NET signs "{verb};{recipientUrl};..." with the URL as given.
  std::string message = std::string("POST;https://dip.example.co.uk/api/v1/IF-033;") + date + ";" +
                        hash;
  SignedMessage m{"POST", kUrl, kBody,
                  {Base64Encode(*raw.Sign(message)), date, id->certificate_header, hash}};
  Verdict v = Check(m);
  EXPECT_TRUE(v.ok()) << v.detail;
}

TEST_F(VerifierTest, EmptyBodyIsHashedAsBraces) {
  SignedMessage m = SignWith("signer-rsa", "GET", kUrl, "", PkiNow());
  EXPECT_EQ(m.headers.content_hash, ContentHash("{}"));
  EXPECT_TRUE(Check(m).ok());
}

TEST_F(VerifierTest, StreamedBodyHash) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  SignedRequest r = m.request();
  r.body = "";
  r.body_hash = ContentHash(kBody);
  EXPECT_TRUE(Check(r).ok());
}

TEST_F(VerifierTest, MissingHeaderNamesTheHeader) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  const std::string_view names[] = {kSignatureHeader, kSignatureDateHeader, kCertificateHeader,
                                    kContentHashHeader};
  for (int i = 0; i < 4; ++i) {
    SignedMessage copy = m;
    std::string* field[] = {&copy.headers.signature, &copy.headers.signature_date,
                            &copy.headers.certificate, &copy.headers.content_hash};
    field[i]->clear();
    Verdict v = Check(copy);
    EXPECT_EQ(v.reason, Reason::kMissingHeader);
    EXPECT_EQ(v.header, names[i]);
  }
}

TEST_F(VerifierTest, TamperedBodyOrHash) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  SignedMessage body = m;
  body.body[5] ^= 1;
  Verdict v = Check(body);
  EXPECT_EQ(v.reason, Reason::kContentHashMismatch);
  EXPECT_EQ(v.header, kContentHashHeader);
  // Hash and body changed together: the signature no longer covers them.
  body.headers.content_hash = ContentHash(body.body);
  EXPECT_EQ(Check(body).reason, Reason::kSignatureMismatch);
}

TEST_F(VerifierTest, WrongDestinationOrMethod) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  SignedMessage other = m;
  other.url = "https://dip.example.co.uk/api/v1/IF-034";
  EXPECT_EQ(Check(other).reason, Reason::kSignatureMismatch);
  other = m;
  other.method = "PUT";
  EXPECT_EQ(Check(other).reason, Reason::kSignatureMismatch);
  other = m;
  other.url = "HTTPS://DIP.EXAMPLE.CO.UK/API/V1/IF-033";  // case only: same destination
  EXPECT_TRUE(Check(other).ok());
}

TEST_F(VerifierTest, FreshnessWindow) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  EXPECT_TRUE(Check(m, PkiNow() + 299000).ok());
  Verdict stale = Check(m, PkiNow() + 301000);
  EXPECT_EQ(stale.reason, Reason::kStaleDate);
  EXPECT_EQ(stale.header, kSignatureDateHeader);
  EXPECT_TRUE(Check(m, PkiNow() - 299000).ok());
  EXPECT_EQ(Check(m, PkiNow() - 301000).reason, Reason::kFutureDate);
  SignedMessage bad = m;
  bad.headers.signature_date = "yesterday";
  EXPECT_EQ(Check(bad).reason, Reason::kBadDate);
}

TEST_F(VerifierTest, ReplayProtection) {
  VerifyPolicy p;
  p.replay_protection = true;
  Verifier v(PkiTrust(), p);
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  Verdict first = v.Verify(m.request(), PkiNow());
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first.replay_hold.empty());
  v.Settle(first, /*accepted=*/true);
  Verdict again = v.Verify(m.request(), PkiNow() + 1000);
  EXPECT_EQ(again.reason, Reason::kReplayed);
  EXPECT_TRUE(again.replay_hold.empty());
  // A rejected message does not poison the cache for the genuine one.
  SignedMessage other = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow() + 1);
  SignedMessage tampered = other;
  tampered.url += "x";
  EXPECT_EQ(v.Verify(tampered.request(), PkiNow()).reason, Reason::kSignatureMismatch);
  EXPECT_TRUE(v.Verify(other.request(), PkiNow()).ok());
  // Entries expire with the window (the date check takes over).
  EXPECT_EQ(v.Verify(m.request(), PkiNow() + 301000).reason, Reason::kStaleDate);
  EXPECT_EQ(v.replay_entries(), 0u);
}

// A signature counts as seen only once its request was answered with
// success: while it is being answered, an identical request is our own
// fault (retry later); after a failure answer, the retry is verified afresh.
TEST_F(VerifierTest, ASignatureIsSeenOnlyOnceItsRequestSucceeded) {
  VerifyPolicy p;
  p.replay_protection = true;
  p.replay_hold_ms = 60000;
  Verifier v(PkiTrust(), p);
  SignedMessage m = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow());
  Verdict first = v.Verify(m.request(), PkiNow());
  ASSERT_TRUE(first.ok());
  Verdict during = v.Verify(m.request(), PkiNow() + 10);
  EXPECT_EQ(during.reason, Reason::kReplayInProgress);
  EXPECT_TRUE(IsOwnFault(during.reason));
  EXPECT_EQ(ToString(during.reason), "replay_in_progress");
  v.Settle(during, false);  // holds nothing: changes nothing
  EXPECT_EQ(v.Verify(m.request(), PkiNow() + 20).reason, Reason::kReplayInProgress);
  v.Settle(first, /*accepted=*/false);  // the application answered 503
  Verdict retry = v.Verify(m.request(), PkiNow() + 30);
  ASSERT_TRUE(retry.ok()) << retry.detail;
  v.Settle(retry, true);
  EXPECT_EQ(v.Verify(m.request(), PkiNow() + 40).reason, Reason::kReplayed);
  // A hold never settled (a worker that died) lapses.
  SignedMessage lost = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow() + 2);
  ASSERT_TRUE(v.Verify(lost.request(), PkiNow()).ok());
  EXPECT_EQ(v.Verify(lost.request(), PkiNow() + 59000).reason, Reason::kReplayInProgress);
  EXPECT_TRUE(v.Verify(lost.request(), PkiNow() + 61000).ok());
}

TEST_F(VerifierTest, ReplayCacheIsBounded) {
  VerifyPolicy p;
  p.replay_protection = true;
  p.replay_capacity = 3;
  Verifier v(PkiTrust(), p);
  for (int i = 0; i < 6; ++i) {
    SignedMessage m = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow() + i);
    EXPECT_TRUE(v.Verify(m.request(), PkiNow()).ok());
  }
  EXPECT_EQ(v.replay_entries(), 3u);
}

// A replay store outside the Verifier (nginx keeps one in shared memory):
// what it says is what the Verifier answers, and a store that cannot record
// is our fault, not the sender's.
class RecordingStore : public ReplayStore {
 public:
  Result<ReplayState> Hold(std::string_view signature, UnixMillis hold_until, UnixMillis expiry,
                           UnixMillis now) override {
    if (full) return Error{Reason::kInternalError, "store full"};
    last_hold_until = hold_until;
    last_expiry = expiry;
    last_now = now;
    auto [it, fresh] = state.emplace(std::string(signature), ReplayState::kHeld);
    return fresh ? ReplayState::kNew : it->second;
  }
  void Settle(std::string_view signature, bool accepted) override {
    if (accepted) {
      state[std::string(signature)] = ReplayState::kAccepted;
    } else {
      state.erase(std::string(signature));
    }
  }
  std::map<std::string, ReplayState> state;
  bool full = false;
  UnixMillis last_hold_until = 0, last_expiry = 0, last_now = 0;
};

TEST_F(VerifierTest, AnExternalReplayStoreDecides) {
  RecordingStore store;
  VerifyPolicy p;
  p.replay_protection = true;
  p.replay_store = &store;
  Verifier v(PkiTrust(), p);
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  Verdict first = v.Verify(m.request(), PkiNow() + 5);
  EXPECT_TRUE(first.ok());
  EXPECT_EQ(store.last_expiry, PkiNow() + p.max_age_ms);  // the date check takes over then
  EXPECT_EQ(store.last_hold_until, PkiNow() + 5 + p.replay_hold_ms);
  EXPECT_EQ(store.last_now, PkiNow() + 5);
  EXPECT_EQ(v.Verify(m.request(), PkiNow()).reason, Reason::kReplayInProgress);
  v.Settle(first, true);
  EXPECT_EQ(v.Verify(m.request(), PkiNow()).reason, Reason::kReplayed);
  EXPECT_EQ(v.replay_entries(), 0u);  // nothing kept in the Verifier itself
  store.full = true;
  SignedMessage other = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow() + 1);
  Verdict full = v.Verify(other.request(), PkiNow());
  EXPECT_EQ(full.reason, Reason::kInternalError);
  EXPECT_TRUE(IsOwnFault(full.reason));
  EXPECT_NE(full.detail.find("store full"), std::string::npos);
}

struct CertCase {
  const char* identity;
  Reason reason;
};

class CertificateReasonTest : public VerifierTest,
                              public ::testing::WithParamInterface<CertCase> {};

TEST_P(CertificateReasonTest, RejectsWithReason) {
  SignedMessage m = SignWith(GetParam().identity, "POST", kUrl, kBody, PkiNow());
  Verdict v = Check(m);
  EXPECT_EQ(v.reason, GetParam().reason) << v.detail;
  EXPECT_EQ(v.header, kCertificateHeader);
  EXPECT_FALSE(v.detail.empty());
  ASSERT_NE(v.signer, nullptr);  // logs can name who was refused
}

INSTANTIATE_TEST_SUITE_P(
    Pki, CertificateReasonTest,
    ::testing::Values(CertCase{"signer-expired", Reason::kCertificateExpired},
                      CertCase{"signer-not-yet-valid", Reason::kCertificateNotYetValid},
                      CertCase{"signer-revoked", Reason::kCertificateRevoked},
                      CertCase{"signer-prod", Reason::kWrongEnvironment},
                      CertCase{"signer-untrusted", Reason::kCertificateUntrusted},
                      CertCase{"signer-wrong-key-usage", Reason::kWrongKeyUsage},
                      CertCase{"issuing-ca", Reason::kCertificateNotEndEntity}),
    [](const auto& info) {
      std::string n = info.param.identity;
      for (char& c : n) if (c == '-') c = '_';
      return n;
    });

TEST_F(VerifierTest, ProdConfigurationAcceptsProdOnly) {
  Verifier prod(PkiTrust(Environment::kProd), VerifyPolicy{});
  EXPECT_TRUE(prod.Verify(SignWith("signer-prod", "POST", kUrl, kBody, PkiNow()).request(),
                          PkiNow()).ok());
  EXPECT_EQ(prod.Verify(SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow()).request(),
                        PkiNow()).reason,
            Reason::kWrongEnvironment);
  Verifier any(PkiTrust(Environment::kAny), VerifyPolicy{});
  EXPECT_TRUE(any.Verify(SignWith("signer-prod", "POST", kUrl, kBody, PkiNow()).request(),
                         PkiNow()).ok());
}

TEST_F(VerifierTest, MalformedEncodings) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  SignedMessage bad = m;
  bad.headers.signature = "not base64!";
  Verdict v = Check(bad);
  EXPECT_EQ(v.reason, Reason::kBadBase64);
  EXPECT_EQ(v.header, kSignatureHeader);
  bad = m;
  bad.headers.certificate = "%%%";
  v = Check(bad);
  EXPECT_EQ(v.reason, Reason::kBadBase64);
  EXPECT_EQ(v.header, kCertificateHeader);
  bad.headers.certificate = Base64Encode("definitely not a certificate");
  EXPECT_EQ(Check(bad).reason, Reason::kBadCertificate);
  bad.headers.certificate = Base64Encode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(Check(bad).reason, Reason::kBadCertificate);
  std::string der = *Base64Decode(m.headers.certificate);
  bad.headers.certificate = Base64Encode(der + "x");
  EXPECT_EQ(Check(bad).reason, Reason::kBadCertificate);
  bad.headers.certificate = Base64Encode(der.substr(0, der.size() - 1));
  EXPECT_EQ(Check(bad).reason, Reason::kBadCertificate);
}

TEST_F(VerifierTest, SignatureFromAnotherKeyIsMismatch) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  SignedMessage ec = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow());
  m.headers.certificate = ec.headers.certificate;
  EXPECT_EQ(Check(m).reason, Reason::kSignatureMismatch);
}

void SweepSignature(Verifier& v, const SignedMessage& m) {
  std::string sig = *Base64Decode(m.headers.signature);
  int rejected = 0, tried = 0;
  for (size_t bit = 0; bit < sig.size() * 8; ++bit) {
    SignedMessage flipped = m;
    std::string s = sig;
    s[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    flipped.headers.signature = Base64Encode(s);
    ++tried;
    Verdict verdict = v.Verify(flipped.request(), PkiNow());
    if (verdict.reason == Reason::kSignatureMismatch) ++rejected;
  }
  for (size_t len = 1; len < sig.size(); ++len) {
    SignedMessage cut = m;
    cut.headers.signature = Base64Encode(sig.substr(0, len));
    ++tried;
    if (v.Verify(cut.request(), PkiNow()).reason == Reason::kSignatureMismatch) ++rejected;
  }
  EXPECT_EQ(rejected, tried);
  EXPECT_TRUE(v.Verify(m.request(), PkiNow()).ok());
}

TEST_F(VerifierTest, EveryBitFlipAndTruncationOfRsaSignatureIsRejected) {
  SweepSignature(v_, SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow()));
}

TEST_F(VerifierTest, EveryBitFlipAndTruncationOfEcdsaSignatureIsRejected) {
  SignedMessage m = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow());
  SweepSignature(v_, m);
  auto p1363 = EcdsaDerToP1363(*Base64Decode(m.headers.signature));
  ASSERT_TRUE(p1363.ok()) << p1363.error().detail;
  m.headers.signature = Base64Encode(*p1363);
  SweepSignature(v_, m);
}

TEST_F(VerifierTest, AllowList) {
  SignedMessage m = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  std::string fingerprint = Check(m).signer->fingerprint;
  VerifyPolicy p;
  p.allow.organizations = {"Someone Else Ltd"};
  Verifier v(PkiTrust(), p);
  Verdict verdict = v.Verify(m.request(), PkiNow());
  EXPECT_EQ(verdict.reason, Reason::kSignerNotAllowed);
  p.allow.organizations.push_back("Example Energy Ltd");
  EXPECT_TRUE(Verifier(PkiTrust(), p).Verify(m.request(), PkiNow()).ok());
  VerifyPolicy by_fp;
  std::string upper_colons;
  for (size_t i = 0; i < fingerprint.size(); i += 2) {
    if (i) upper_colons += ":";
    upper_colons += static_cast<char>(toupper(fingerprint[i]));
    upper_colons += static_cast<char>(toupper(fingerprint[i + 1]));
  }
  by_fp.allow.fingerprints = {upper_colons};
  EXPECT_TRUE(Verifier(PkiTrust(), by_fp).Verify(m.request(), PkiNow()).ok());
  VerifyPolicy by_subject;
  by_subject.allow.subjects = {Check(m).signer->subject};
  EXPECT_TRUE(Verifier(PkiTrust(), by_subject).Verify(m.request(), PkiNow()).ok());
  by_subject.allow.subjects = {"CN=someone"};
  EXPECT_EQ(Verifier(PkiTrust(), by_subject).Verify(m.request(), PkiNow()).reason,
            Reason::kSignerNotAllowed);
}

TEST_F(VerifierTest, CertificateCacheIsUsedAndBounded) {
  VerifyPolicy p;
  p.certificate_cache_capacity = 1;
  Verifier v(PkiTrust(), p);
  SignedMessage rsa = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  SignedMessage ec = SignWith("signer-ec", "POST", kUrl, kBody, PkiNow());
  EXPECT_TRUE(v.Verify(rsa.request(), PkiNow()).ok());
  EXPECT_TRUE(v.Verify(rsa.request(), PkiNow()).ok());
  EXPECT_EQ(v.cached_certificates(), 1u);
  EXPECT_TRUE(v.Verify(ec.request(), PkiNow()).ok());
  EXPECT_EQ(v.cached_certificates(), 1u);
  EXPECT_TRUE(v.Verify(rsa.request(), PkiNow()).ok());
}

TEST_F(VerifierTest, CachedCertificateStillExpires) {
  TrustOptions o;
  o.ca_files = {PkiFile("ca-bundle.pem")};
  o.revocation = Revocation::kOff;
  Verifier v(*TrustStore::Create(o), VerifyPolicy{});
  SignedMessage now = SignWith("signer-rsa", "POST", kUrl, kBody, PkiNow());
  EXPECT_TRUE(v.Verify(now.request(), PkiNow()).ok());
  UnixMillis later = PkiNow() + 398LL * 86400000;
  SignedMessage late = SignWith("signer-rsa", "POST", kUrl, kBody, later);
  EXPECT_EQ(v.Verify(late.request(), later).reason, Reason::kCertificateExpired);
}

}  // namespace
}  // namespace dipgate
