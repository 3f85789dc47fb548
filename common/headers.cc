#include "common/headers.h"

#include "common/ascii.h"

namespace dipgate {
namespace {

constexpr std::string_view kCollected[] = {kSignatureHeader, kSignatureDateHeader,
                                           kCertificateHeader, kContentHashHeader,
                                           kLegacyCertificateHeader};

}  // namespace

std::vector<std::pair<std::string, std::string>> SignedHeaderList(const DipHeaders& h,
                                                                  std::string_view api_key) {
  std::vector<std::pair<std::string, std::string>> out = {
      {std::string(kSignatureHeader), h.signature},
      {std::string(kSignatureDateHeader), h.signature_date},
      {std::string(kCertificateHeader), h.certificate},
      {std::string(kContentHashHeader), h.content_hash},
  };
  if (!api_key.empty()) out.emplace_back(std::string(kApiKeyHeader), std::string(api_key));
  return out;
}

bool IsDipHeaderName(std::string_view name) {
  for (std::string_view h : kCollected) {
    if (EqualsNoCase(name, h)) return true;
  }
  return EqualsNoCase(name, kApiKeyHeader);
}

void DipHeaderCollector::Add(std::string_view name, std::string_view value) {
  for (size_t i = 0; i < 5; ++i) {
    if (EqualsNoCase(name, kCollected[i])) {
      if (++seen_[i] == 1) values_[i] = value;
      return;
    }
  }
}

std::string_view DipHeaderCollector::duplicate() const {
  for (size_t i = 0; i < 4; ++i) {
    if (seen_[i] > 1) return kCollected[i];
  }
  if (seen_[2] == 0 && seen_[4] > 1) return kLegacyCertificateHeader;
  return {};
}

}  // namespace dipgate
