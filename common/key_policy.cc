#include "common/key_policy.h"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <algorithm>

namespace dipgate {

const KeyPolicy& DipKeyPolicy() {
  static const KeyPolicy policy{
      2048,
      {"prime256v1", "secp384r1", "secp521r1"},  // NIST prime curves by name; no P-192
      {"prime256v1", "P-256"},                     // CoCo 8.6
  };
  return policy;
}

std::string EcCurveName(EVP_PKEY* key) {
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                     &len) != 1) {
    ERR_clear_error();
    return "";
  }
  return group;
}

Status CheckKeyStrength(EVP_PKEY* key, KeyRole role, const std::string& where) {
  const KeyPolicy& p = DipKeyPolicy();
  if (key == nullptr) return Error{Reason::kInternalError, where + ": no key"};
  if (EVP_PKEY_is_a(key, "RSA")) {
    int bits = EVP_PKEY_get_bits(key);
    if (bits < p.min_rsa_bits || bits % 8 != 0) {
      return Error{Reason::kWeakKey, where + ": RSA key of " + std::to_string(bits) + " bits (" +
                                         std::to_string(p.min_rsa_bits) +
                                         " or more in whole octets, CoCo 6.2)"};
    }
    return OkStatus();
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::string curve = EcCurveName(key);
    const auto& allowed = role == KeyRole::kSigning ? p.signing_curves : p.chain_curves;
    if (std::find(allowed.begin(), allowed.end(), curve) == allowed.end()) {
      return Error{Reason::kWeakKey,
                   where + ": EC key on curve '" + curve + "'" +
                       (role == KeyRole::kSigning ? ", not P-256 (CoCo 8.6)" : "")};
    }
    return OkStatus();
  }
  return Error{Reason::kWeakKey, where + ": unsupported key type " + EVP_PKEY_get0_type_name(key)};
}

}  // namespace dipgate
