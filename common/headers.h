// DIP header names (CoCo 8.3, 8.8).
#ifndef DIPGATE_COMMON_HEADERS_H_
#define DIPGATE_COMMON_HEADERS_H_

#include <string>
#include <string_view>

namespace dipgate {

inline constexpr std::string_view kSignatureHeader = "X-DIP-Signature";
inline constexpr std::string_view kSignatureDateHeader = "X-DIP-Signature-Date";
inline constexpr std::string_view kCertificateHeader = "X-DIP-Signature-Certificate";
inline constexpr std::string_view kContentHashHeader = "X-DIP-Content-Hash";
inline constexpr std::string_view kApiKeyHeader = "X-API-KEY";
// An older Go sender names the certificate header this way; accepted on
// input when the standard header is absent, never emitted.
inline constexpr std::string_view kLegacyCertificateHeader = "X-DIP-Certificate";

// The four signature headers' values, as a sender emits them.
struct DipHeaders {
  std::string signature;
  std::string signature_date;
  std::string certificate;
  std::string content_hash;
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_HEADERS_H_
