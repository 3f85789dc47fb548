// DIP header names (CoCo 8.3, 8.8), the one list a signed request carries,
// and the one collector of the headers a request arrived with.
#ifndef DIPGATE_COMMON_HEADERS_H_
#define DIPGATE_COMMON_HEADERS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// What a signed request carries, in the order every component sends it:
// the four signature headers, then X-API-KEY when `api_key` is not empty.
std::vector<std::pair<std::string, std::string>> SignedHeaderList(const DipHeaders& headers,
                                                                  std::string_view api_key = {});

// True for a header a signing proxy must remove from what the client sent
// (the four, the legacy certificate header, X-API-KEY), any case.
bool IsDipHeaderName(std::string_view name);

// Collects the DIP headers of a received request, header by header, with
// one rule everywhere: each of the four may appear once; the legacy
// certificate header is read, and its repetition counts, only when the
// standard one is absent. Values are views into the caller's headers.
class DipHeaderCollector {
 public:
  // Any header of the request; others than the DIP's are ignored.
  void Add(std::string_view name, std::string_view value);

  std::string_view signature() const { return values_[0]; }
  std::string_view signature_date() const { return values_[1]; }
  std::string_view certificate() const { return seen_[2] ? values_[2] : values_[4]; }
  std::string_view content_hash() const { return values_[3]; }
  // The first header repeated (canonical name), or empty.
  std::string_view duplicate() const;

 private:
  std::string_view values_[5];
  int seen_[5] = {0, 0, 0, 0, 0};
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_HEADERS_H_
