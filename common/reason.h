// Why a message or certificate was not accepted. Every rejection carries one
// of these, with a stable snake_case word (ToString) for logs, HTTP bodies,
// metrics and dead-letter headers. Rejections caused by the sender are kept
// apart from internal errors (ours: out of memory, broken configuration).
#ifndef DIPGATE_COMMON_REASON_H_
#define DIPGATE_COMMON_REASON_H_

#include <string_view>

namespace dipgate {

enum class Reason {
  kOk,                        // accepted
  // -- the request's headers
  kMissingHeader,             // a required X-DIP header is absent or empty
  kDuplicateHeader,           // a header that must appear once appears twice
  kBadBase64,                 // a header that must be base64 is not
  kBadDate,                   // X-DIP-Signature-Date is not an ISO 8601 UTC time
  kStaleDate,                 // signature date older than the freshness window
  kFutureDate,                // signature date further ahead than the window
  kContentHashMismatch,       // X-DIP-Content-Hash differs from the body's hash
  kBodyTooLarge,              // body exceeds the configured maximum
  // -- the signature
  kSignatureMismatch,         // the signature does not verify over the request
  kReplayed,                  // this signature was already accepted in the window
  kReplayInProgress,          // a request with this signature is still being answered
  // -- the signer's certificate
  kBadCertificate,            // X-DIP-Signature-Certificate does not decode
  kCertificateUntrusted,      // no chain to a configured DIP CA
  kCertificateExpired,        // after notAfter (leaf or chain)
  kCertificateNotYetValid,    // before notBefore (leaf or chain)
  kCertificateRevoked,        // listed on a CA's CRL
  kRevocationUnknown,         // no CRL for a CA in the chain (fails closed)
  kCrlExpired,                // a CRL is past nextUpdate (fails closed)
  kOcspUnknown,               // the OCSP responder does not know the certificate
  kOcspUnavailable,           // no usable OCSP answer: responder down or busy (fails closed)
  kOcspResponseInvalid,       // an OCSP response badly signed, stale, malformed or not for it
  kCertificateNotEndEntity,   // a CA certificate used to sign a message
  kCertificateMalformed,      // X.509 v1, bad serial or other strictness fault
  kWrongKeyUsage,             // keyUsage lacks digitalSignature
  kWeakKey,                   // RSA < 2048 bits or an EC curve other than P-256
  kWrongEnvironment,          // CN prefix is not the configured environment
  kSignerNotAllowed,          // signer not on the configured allow-list
  kPeerNotAuthenticated,      // the hop that passed the message on is not authenticated
  // -- the DIP message (common/dip/): the body, its envelope, its schema
  kInvalidJson,               // the body is not JSON
  kNotMessageArray,           // not a DIP message array [{"payload": {...}}, ...]
  kMissingEnvelope,           // no CommonBlock.S0.interfaceID in a message
  kUnknownInterface,          // interfaceID is not a channel of the loaded spec
  kChannelMismatch,           // interfaceID differs from the channel it was sent on
  kUnknownEventCode,          // eventCode missing or not defined for the interface
  kUnsupportedSchemaVersion,  // schemaVersion not one the interface's schema accepts
  kEnvironmentTagMismatch,    // S1.environmentTag is not the configured environment
  kBadSenderUniqueReference,  // S1.senderUniqueReference fails its pattern or length
  kSchemaInvalid,             // the payload fails its interface's JSON schema
  // -- ours, not the sender's
  kInternalError,             // resource or configuration failure on our side
};

// The stable word for a reason, e.g. "signature_mismatch".
std::string_view ToString(Reason reason);

// True for reasons that are our fault (retry) rather than the sender's.
inline bool IsInternal(Reason reason) { return reason == Reason::kInternalError; }

// True for the reasons a receiver answers as its own fault, so that the
// sender retries: internal errors, a CRL copy that is stale or missing (the
// sender's certificate may be fine; our refresh failed), an OCSP responder
// that gave no usable answer, and a signature
// whose first request has not been answered yet (its retry must not be
// lost if that answer is a failure).
inline bool IsOwnFault(Reason reason) {
  return reason == Reason::kInternalError || reason == Reason::kCrlExpired ||
         reason == Reason::kRevocationUnknown || reason == Reason::kReplayInProgress ||
         reason == Reason::kOcspUnavailable;
}

}  // namespace dipgate

#endif  // DIPGATE_COMMON_REASON_H_
