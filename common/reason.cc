#include "common/reason.h"

namespace dipgate {

std::string_view ToString(Reason reason) {
  switch (reason) {
    case Reason::kOk: return "ok";
    case Reason::kMissingHeader: return "missing_header";
    case Reason::kDuplicateHeader: return "duplicate_header";
    case Reason::kBadBase64: return "bad_base64";
    case Reason::kBadDate: return "bad_date";
    case Reason::kStaleDate: return "stale_date";
    case Reason::kFutureDate: return "future_date";
    case Reason::kContentHashMismatch: return "content_hash_mismatch";
    case Reason::kBodyTooLarge: return "body_too_large";
    case Reason::kSignatureMismatch: return "signature_mismatch";
    case Reason::kReplayed: return "replayed";
    case Reason::kReplayInProgress: return "replay_in_progress";
    case Reason::kPeerNotAuthenticated: return "peer_not_authenticated";
    case Reason::kBadCertificate: return "bad_certificate";
    case Reason::kCertificateUntrusted: return "certificate_untrusted";
    case Reason::kCertificateExpired: return "certificate_expired";
    case Reason::kCertificateNotYetValid: return "certificate_not_yet_valid";
    case Reason::kCertificateRevoked: return "certificate_revoked";
    case Reason::kRevocationUnknown: return "revocation_unknown";
    case Reason::kCrlExpired: return "crl_expired";
    case Reason::kOcspUnknown: return "ocsp_unknown";
    case Reason::kOcspUnavailable: return "ocsp_unavailable";
    case Reason::kOcspResponseInvalid: return "ocsp_response_invalid";
    case Reason::kCertificateNotEndEntity: return "certificate_not_end_entity";
    case Reason::kCertificateMalformed: return "certificate_malformed";
    case Reason::kWrongKeyUsage: return "wrong_key_usage";
    case Reason::kWeakKey: return "weak_key";
    case Reason::kWrongEnvironment: return "wrong_environment";
    case Reason::kSignerNotAllowed: return "signer_not_allowed";
    case Reason::kInvalidJson: return "invalid_json";
    case Reason::kNotMessageArray: return "not_message_array";
    case Reason::kMissingEnvelope: return "missing_envelope";
    case Reason::kUnknownInterface: return "unknown_interface";
    case Reason::kChannelMismatch: return "channel_mismatch";
    case Reason::kUnknownEventCode: return "unknown_event_code";
    case Reason::kUnsupportedSchemaVersion: return "unsupported_schema_version";
    case Reason::kEnvironmentTagMismatch: return "environment_tag_mismatch";
    case Reason::kBadSenderUniqueReference: return "bad_sender_unique_reference";
    case Reason::kSchemaInvalid: return "schema_invalid";
    case Reason::kInternalError: return "internal_error";
  }
  return "internal_error";
}

}  // namespace dipgate
