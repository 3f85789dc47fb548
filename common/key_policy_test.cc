#include "common/key_policy.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "common/ossl.h"

namespace dipgate {
namespace {

PkeyPtr Rsa(unsigned bits) { return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits)); }
PkeyPtr Ec(const char* curve) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

TEST(KeyPolicy, OneTableForChainsAndSigning) {
  EXPECT_EQ(DipKeyPolicy().min_rsa_bits, 2048);
  auto rsa2048 = Rsa(2048), rsa1024 = Rsa(1024), rsa2056 = Rsa(2056);
  auto p256 = Ec("P-256"), p384 = Ec("P-384");
  for (KeyRole role : {KeyRole::kChain, KeyRole::kSigning}) {
    EXPECT_TRUE(CheckKeyStrength(rsa2048.get(), role, "k").ok());
    EXPECT_TRUE(CheckKeyStrength(rsa2056.get(), role, "k").ok());
    auto weak = CheckKeyStrength(rsa1024.get(), role, "k");
    EXPECT_EQ(weak.reason(), Reason::kWeakKey);
    EXPECT_NE(weak.error().detail.find("RSA key of 1024 bits"), std::string::npos);
    EXPECT_TRUE(CheckKeyStrength(p256.get(), role, "k").ok());
  }
  // P-384 may key a CA certificate, but DIP messages are signed on P-256.
  EXPECT_TRUE(CheckKeyStrength(p384.get(), KeyRole::kChain, "k").ok());
  auto signing = CheckKeyStrength(p384.get(), KeyRole::kSigning, "signing key");
  EXPECT_EQ(signing.reason(), Reason::kWeakKey);
  EXPECT_NE(signing.error().detail.find("signing key: EC key on curve 'secp384r1', not P-256"),
            std::string::npos) << signing.error().detail;
  EXPECT_EQ(EcCurveName(p256.get()), "prime256v1");
}

}  // namespace
}  // namespace dipgate
