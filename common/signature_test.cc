#include "common/signature.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>

#include <map>

#include "tests/fixtures.h"

namespace dipgate {
namespace {

using testing::ReadFile;
using testing::Runfile;

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

PkeyPtr PublicKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr PrivateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

rapidjson::Document Load(const std::string& name) {
  rapidjson::Document doc;
  doc.Parse(ReadFile(Runfile("tests/vectors/wycheproof/" + name)).c_str());
  EXPECT_FALSE(doc.HasParseError()) << name;
  return doc;
}

struct Tally {
  int run = 0, matched = 0;
  std::map<std::string, int> by_result;
};

// Runs every verification vector of a Wycheproof file through
// SignatureVerifier. Policy for "acceptable": rejected (strict verifier).
Tally RunVerifyFile(const std::string& name, EcdsaEncoding encoding) {
  Tally t;
  rapidjson::Document doc = Load(name);
  for (const auto& group : doc["testGroups"].GetArray()) {
    PkeyPtr key = PublicKey(group["publicKeyPem"].GetString());
    std::string sha = group["sha"].GetString();
    EXPECT_EQ(sha, "SHA-256");
    if (!key) {
      ADD_FAILURE() << name << ": unreadable public key";
      continue;
    }
    auto verifier = SignatureVerifier::Create(key.get());
    if (!verifier) {
      ADD_FAILURE() << name << ": " << verifier.error().detail;
      continue;
    }
    for (const auto& test : group["tests"].GetArray()) {
      std::string result = test["result"].GetString();
      bool got = verifier->Verify(Unhex(test["msg"].GetString()), Unhex(test["sig"].GetString()),
                                  encoding);
      bool want = result == "valid";
      ++t.run;
      ++t.by_result[result];
      if (got == want) {
        ++t.matched;
      } else {
        ADD_FAILURE() << name << " tcId " << test["tcId"].GetInt() << " ("
                      << test["comment"].GetString() << ", " << result << "): got "
                      << (got ? "accepted" : "rejected");
      }
    }
  }
  return t;
}

TEST(Wycheproof, RsaPkcs1Sha256_2048) {
  Tally t = RunVerifyFile("rsa_signature_2048_sha256_test.json", EcdsaEncoding::kAny);
  EXPECT_EQ(t.run, 259);
  EXPECT_EQ(t.matched, t.run);
}

TEST(Wycheproof, RsaPkcs1Sha256_3072) {
  Tally t = RunVerifyFile("rsa_signature_3072_sha256_test.json", EcdsaEncoding::kAny);
  EXPECT_EQ(t.run, 259);
  EXPECT_EQ(t.matched, t.run);
}

TEST(Wycheproof, RsaPkcs1Sha256_4096) {
  Tally t = RunVerifyFile("rsa_signature_4096_sha256_test.json", EcdsaEncoding::kAny);
  EXPECT_EQ(t.run, 258);
  EXPECT_EQ(t.matched, t.run);
}

TEST(Wycheproof, EcdsaP256Der) {
  Tally t = RunVerifyFile("ecdsa_secp256r1_sha256_test.json", EcdsaEncoding::kDer);
  EXPECT_EQ(t.run, 484);
  EXPECT_EQ(t.matched, t.run);
}

TEST(Wycheproof, EcdsaP256P1363) {
  Tally t = RunVerifyFile("ecdsa_secp256r1_sha256_p1363_test.json", EcdsaEncoding::kP1363);
  EXPECT_EQ(t.run, 262);
  EXPECT_EQ(t.matched, t.run);
}

// The verifier on the wire does not know the encoding: auto-detection must
// give the same answer on every vector of both files.
TEST(Wycheproof, EcdsaAutoDetectAgreesOnBothEncodings) {
  Tally der = RunVerifyFile("ecdsa_secp256r1_sha256_test.json", EcdsaEncoding::kAny);
  Tally p1363 = RunVerifyFile("ecdsa_secp256r1_sha256_p1363_test.json", EcdsaEncoding::kAny);
  EXPECT_EQ(der.matched, 484);
  EXPECT_EQ(p1363.matched, 262);
}

// RSA PKCS#1 v1.5 is deterministic: the signer must reproduce every
// expected signature exactly. Policy for "acceptable": SHA-1 (WeakHash) is
// refused by the signer; small public exponents are signed as given.
TEST(Wycheproof, RsaPkcs1SigningReproducesExpectedSignatures) {
  rapidjson::Document doc = Load("rsa_pkcs1_2048_sig_gen_test.json");
  int signed_ok = 0, refused = 0, total = 0;
  for (const auto& group : doc["testGroups"].GetArray()) {
    PkeyPtr key = PrivateKey(group["privateKeyPem"].GetString());
    ASSERT_TRUE(key);
    std::string sha = group["sha"].GetString();
    std::string md;
    for (char c : sha) if (c != '-') md.push_back(c);
    auto signer = SignatureSigner::Create(key.get(), md.c_str());
    for (const auto& test : group["tests"].GetArray()) {
      ++total;
      std::string result = test["result"].GetString();
      bool weak_hash = false;
      for (const auto& f : test["flags"].GetArray()) weak_hash |= std::string(f.GetString()) == "WeakHash";
      if (weak_hash) {
        EXPECT_FALSE(signer.ok()) << "SHA-1 signing must be refused";
        ++refused;
        continue;
      }
      ASSERT_TRUE(signer.ok()) << signer.error().detail;
      auto sig = signer->Sign(Unhex(test["msg"].GetString()));
      ASSERT_TRUE(sig.ok());
      EXPECT_EQ(*sig, Unhex(test["sig"].GetString())) << "tcId " << test["tcId"].GetInt();
      ++signed_ok;
    }
  }
  EXPECT_EQ(total, 43);
  EXPECT_EQ(refused, 8);
  EXPECT_EQ(signed_ok, 35);
}

TEST(Signature, EcdsaEncodingsConvertBothWays) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  auto signer = SignatureSigner::Create(key.get());
  ASSERT_TRUE(signer.ok());
  auto der = signer->Sign("message");
  ASSERT_TRUE(der.ok());
  auto converted = EcdsaDerToP1363(*der);
  ASSERT_TRUE(converted.ok()) << converted.error().detail;
  std::string p1363 = *converted;
  ASSERT_EQ(p1363.size(), 64u);
  auto back = EcdsaP1363ToDer(p1363);
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_EQ(*back, *der);
  auto verifier = SignatureVerifier::Create(key.get());
  ASSERT_TRUE(verifier.ok());
  EXPECT_TRUE(verifier->Verify("message", *der));
  EXPECT_TRUE(verifier->Verify("message", p1363));
  EXPECT_FALSE(verifier->Verify("message", p1363, EcdsaEncoding::kDer));
  EXPECT_FALSE(verifier->Verify("message", *der, EcdsaEncoding::kP1363));
  EXPECT_FALSE(verifier->Verify("messagE", p1363));
}

TEST(Signature, EcdsaConversionsSayWhatIsWrong) {
  for (size_t len : {0u, 1u, 63u, 65u, 72u}) {
    auto der = EcdsaP1363ToDer(std::string(len, '\x01'));
    ASSERT_FALSE(der.ok()) << len;
    EXPECT_EQ(der.reason(), Reason::kSignatureMismatch);
    EXPECT_EQ(der.error().detail,
              "P1363 ECDSA signature of " + std::to_string(len) + " bytes (P-256 r||s is 64)");
  }
  auto not_der = EcdsaDerToP1363(std::string(64, '\x01'));
  ASSERT_FALSE(not_der.ok());
  EXPECT_EQ(not_der.reason(), Reason::kSignatureMismatch);
  EXPECT_EQ(not_der.error().detail, "ECDSA signature is not DER");
  EXPECT_FALSE(EcdsaDerToP1363("").ok());

  // A P-384 signature is DER, but its r and s do not fit P-256's 32 bytes
  // (both would need their top 128 bits zero).
  PkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  MdCtxPtr md(EVP_MD_CTX_new());
  const auto* msg = reinterpret_cast<const unsigned char*>("m");
  size_t len = 0;
  ASSERT_EQ(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, p384.get()), 1);
  ASSERT_EQ(EVP_DigestSign(md.get(), nullptr, &len, msg, 1), 1);
  std::string sig(len, '\0');
  ASSERT_EQ(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg, 1), 1);
  sig.resize(len);
  auto wide = EcdsaDerToP1363(sig);
  ASSERT_FALSE(wide.ok());
  EXPECT_EQ(wide.reason(), Reason::kSignatureMismatch);
  EXPECT_EQ(wide.error().detail, "ECDSA r or s longer than 32 bytes (not P-256)");
}

TEST(Signature, CloneSignsIndependently) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  auto signer = SignatureSigner::Create(key.get());
  ASSERT_TRUE(signer.ok());
  auto clone = signer->Clone();
  ASSERT_TRUE(clone.ok());
  EXPECT_EQ(*signer->Sign("x"), *clone->Sign("x"));
}

TEST(Signature, RefusesOtherKeyTypesAndCurves) {
  PkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_EQ(SignatureVerifier::Create(ed.get()).reason(), Reason::kWeakKey);
  PkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  EXPECT_EQ(SignatureSigner::Create(p384.get()).reason(), Reason::kWeakKey);
}

}  // namespace
}  // namespace dipgate
