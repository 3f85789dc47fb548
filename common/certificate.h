// The signer's certificate: decoding X-DIP-Signature-Certificate (base64 of
// DER, or base64 of PEM text as the Postman and Go senders write it) and the
// facts a relying party reads off it.
#ifndef DIPGATE_COMMON_CERTIFICATE_H_
#define DIPGATE_COMMON_CERTIFICATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/canonical.h"
#include "common/ossl.h"
#include "common/result.h"

namespace dipgate {

// DIP environments, from the CN prefix (CoCo 6.1.2 Table 4). A relying
// party is configured with kProd, kNonProd or kAny (either prefix); a
// certificate has kProd, kNonProd or kUnrecognised. kUnrecognised is a real
// state, not a failure: a CA certificate, or a signer whose CN carries
// neither prefix (accepted only with kAny, and shown as "unknown").
enum class Environment {
  kAny,           // configuration: either prefix is accepted
  kProd,          // CN starts with energydip-prod.
  kNonProd,       // CN starts with energydip-nonprod.
  kUnrecognised,  // CN starts with neither; never a valid configuration
};
// "any", "prod", "nonprod", or "unknown" for kUnrecognised (the word
// $dip_signer_environment and dipctl show).
std::string_view ToString(Environment env);

// A configured environment name: "prod", "nonprod" or "any". Anything else
// is kInternalError naming the text.
Result<Environment> EnvironmentFromName(std::string_view name);

struct CertificateInfo {
  std::string subject;           // RFC 2253 one-line form
  std::string common_name;
  std::string organization;
  std::string issuer;
  std::string fingerprint;       // SHA-256 of the DER, lower-case hex
  std::string serial;            // hex
  UnixMillis not_before = 0;
  UnixMillis not_after = 0;
  Environment environment = Environment::kUnrecognised;  // from the CN prefix
  std::string key_description;   // "RSA-2048", "ECDSA P-256"
};

struct DecodedCertificate {
  X509Ptr leaf;
  X509StackPtr extra;  // further certificates a PEM header carried (a chain)
  std::string der;     // the leaf's DER bytes
};

// Decodes the header value. kBadBase64 when the value is not base64,
// kBadCertificate when the bytes are neither one DER certificate (with no
// trailing bytes) nor PEM text holding at least one certificate.
Result<DecodedCertificate> DecodeCertificateHeader(std::string_view header_value);

// The header value dipgate emits: base64 of the DER (the CoCo reference).
std::string EncodeCertificateHeader(X509* cert);

// The facts a relying party reads off a certificate. kCertificateMalformed
// when notBefore or notAfter cannot be decoded (no 0 stands in for a time).
Result<CertificateInfo> ReadCertificateInfo(X509* cert);

// Environment from a CN: "energydip-prod.x" -> kProd, "energydip-nonprod.x"
// -> kNonProd, otherwise kUnrecognised. Case-insensitive.
Environment EnvironmentOfCommonName(std::string_view cn);

// Reads every certificate in a PEM or DER file.
Result<std::vector<X509Ptr>> LoadCertificates(const std::string& path);

// A name in RFC 2253 form, e.g. "CN=energydip-prod.mp.co.uk,O=MP Ltd,C=GB".
std::string NameToString(X509_NAME* name);

// A certificate or CRL time. kCertificateMalformed when it is absent or not
// a valid UTCTime/GeneralizedTime; callers add which field of what.
Result<UnixMillis> Asn1TimeToMillis(const ASN1_TIME* t);

// Whole days from `now` until `not_after`, truncated (negative once past).
int64_t DaysToExpiry(UnixMillis not_after, UnixMillis now);

// CoCo 6.1.5: the DIP portal sends renewal notices at 90/60/30/1 days;
// dipgate's own warnings (dipctl, nginx at start, the bridge) begin here.
constexpr int64_t kExpiryWarningDays = 30;

}  // namespace dipgate

#endif  // DIPGATE_COMMON_CERTIFICATE_H_
