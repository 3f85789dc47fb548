// The certificate profile a DIP relying party requires beyond what OpenSSL's
// path validation checks: RFC 5280 MUSTs OpenSSL leaves out, the DIP
// signing end-entity profile (CoCo 8.6, Table 4) and the key strengths of
// the key-policy table (common/key_policy.h). Each check is a small named
// function; the trust store (common/trust_store.cc) runs them on the chains
// it builds. Revocation is not here: it is the trust store's (CRLs; a second
// source such as OCSP plugs in beside them there).
#ifndef DIPGATE_COMMON_CERT_PROFILE_H_
#define DIPGATE_COMMON_CERT_PROFILE_H_

#include <openssl/x509.h>

#include <string>

#include "common/result.h"

namespace dipgate {

// The signer certificate itself: X.509 v3, a positive serial of at most 20
// octets, decodable extensions, not a CA, keyUsage with digitalSignature and
// without certificate or CRL signing, no empty extendedKeyUsage, valid
// subjectAltName names, a signing key the key policy allows.
Status CheckEndEntityProfile(X509* leaf);

// Every certificate of a built chain (leaf first, trust anchor last):
// extensions decode, authorityKeyIdentifier (4.2.1.1), nameConstraints
// (4.2.1.10), policyConstraints (4.2.1.11), key strength. On failure
// `*failed_depth` is the depth of the certificate at fault.
Status CheckChainProfile(STACK_OF(X509) * chain, int* failed_depth);

// Intermediate CAs in `chain` that count towards a depth limit: self-issued
// ones do not (RFC 5280 4.2.1.9).
int CountedIntermediates(STACK_OF(X509) * chain);

// "signer certificate" or "CA certificate at depth N", for messages.
std::string Where(int depth);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_CERT_PROFILE_H_
