// Certificate status by OCSP (RFC 6960), over OpenSSL's OCSP API: the
// request for a certificate and its issuer (with a nonce, optionally), the
// response checked fully, and a cache of answers. The network is the
// caller's (libcurl in the bridge and dipctl, nginx's event loop in the
// module): this file turns a certificate into request bytes and response
// bytes into a verdict, with the time as a parameter.
//
// A response is accepted only when it is a successful response, signed by
// the issuer or by a responder the issuer delegated (id-kp-OCSPSigning)
// chaining to the trust anchors, answers for exactly this certificate ID,
// is current (thisUpdate not ahead, nextUpdate not passed, each with the
// skew; without nextUpdate, thisUpdate within the maximum age) and carries
// the request's nonce when the responder echoes one (or must, when asked).
// The verdict is a reason word like every other:
//   ok                     good
//   certificate_revoked    revoked (the time and the CRL reason in detail)
//   ocsp_unknown           the responder does not know the certificate
//   ocsp_unavailable       no usable answer: tryLater, internalError, no
//                          responder (our side: the sender retries)
//   ocsp_response_invalid  malformed, badly signed, stale, not for this
//                          certificate, or a nonce that does not match
#ifndef DIPGATE_COMMON_OCSP_H_
#define DIPGATE_COMMON_OCSP_H_

#include <openssl/x509.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/canonical.h"
#include "common/reason.h"
#include "common/result.h"

namespace dipgate {

// The first OCSP responder URL of `cert`'s Authority Information Access;
// empty when it names none.
std::string OcspResponderOf(X509* cert);

struct OcspRequest {
  std::string der;     // the OCSPRequest, for an HTTP POST (application/ocsp-request)
  std::string key;     // the DER of the certificate ID: what answers are cached by
  bool nonce = false;  // a nonce was added
};

// The request for `cert` issued by `issuer` (SHA-1 certificate ID, as RFC
// 5019 responders expect), with a random nonce when `nonce`.
Result<OcspRequest> MakeOcspRequest(X509* cert, X509* issuer, bool nonce);

struct OcspOptions {
  UnixMillis skew_ms = 5 * 60 * 1000;            // clock difference allowed both ways
  UnixMillis max_age_ms = 7LL * 24 * 3600 * 1000;  // an answer without nextUpdate, and any cached one
  bool require_nonce = false;  // a request with a nonce needs it echoed
};

struct OcspStatus {
  Reason reason = Reason::kOcspResponseInvalid;
  std::string detail;          // for people: what the answer said, or what failed
  UnixMillis this_update = 0;  // of the answer (0 when there is none)
  UnixMillis next_update = 0;  // 0 when the answer has none
  UnixMillis revoked_at = 0;   // certificate_revoked: when
  std::string revocation_reason;  // certificate_revoked: the CRL reason ("keyCompromise"), or ""
  bool ok() const { return reason == Reason::kOk; }
};

// Checks the DER response `der` to `request` about `cert` (issued by
// `issuer`), the signature against `trust` (the trust anchors; `issuer` is
// offered as an untrusted intermediate), at `now`.
OcspStatus CheckOcspResponse(std::string_view der, const OcspRequest& request, X509* cert,
                             X509* issuer, X509_STORE* trust, UnixMillis now,
                             const OcspOptions& options = {});

// Answers by certificate ID, each until its nextUpdate capped by the
// maximum age (an answer that is not good, revoked or unknown is never
// kept). Thread-safe.
class OcspCache {
 public:
  explicit OcspCache(UnixMillis max_age_ms = OcspOptions{}.max_age_ms) : max_age_ms_(max_age_ms) {}
  void Put(const std::string& key, const OcspStatus& status, UnixMillis now);
  // The answer for `key` while it is valid at `now`.
  std::optional<OcspStatus> Get(const std::string& key, UnixMillis now) const;
  // True when the answer for `key` is missing or in the last tenth of its
  // life: time to ask again before it expires.
  bool NeedsRefresh(const std::string& key, UnixMillis now) const;
  size_t size() const;

 private:
  struct Entry {
    OcspStatus status;
    UnixMillis stored = 0;
    UnixMillis until = 0;
  };
  UnixMillis max_age_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_OCSP_H_
