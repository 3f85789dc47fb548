// The one table of key strengths dipgate accepts, from the DIP PKI's
// promises (CoCo 6.2: subscriber keys RSA 2048 or more, CA keys RSA 4096;
// 8.6: ECDSA P-256 signing certificates). The trust store (chain keys), the
// signer and verifier (signing keys) and the test PKI generator all read it.
#ifndef DIPGATE_COMMON_KEY_POLICY_H_
#define DIPGATE_COMMON_KEY_POLICY_H_

#include <openssl/evp.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dipgate {

struct KeyPolicy {
  int min_rsa_bits;                            // in whole octets
  std::vector<std::string_view> chain_curves;  // EC curves a CA or signer certificate key may use
  std::vector<std::string_view> signing_curves;  // EC curves a message signature may use
};

const KeyPolicy& DipKeyPolicy();

enum class KeyRole {
  kChain,    // a key of a certificate in a chain (CA or end entity)
  kSigning,  // a key that signs DIP messages
};

// weak_key, naming `where` and why, for a key the policy does not allow in
// `role` (RSA too short or not whole octets, an EC curve not listed, any
// other key type).
Status CheckKeyStrength(EVP_PKEY* key, KeyRole role, const std::string& where);

// The EC group name of `key` ("prime256v1"), or "" when it has none.
std::string EcCurveName(EVP_PKEY* key);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_KEY_POLICY_H_
