// Fuzz target: X-DIP-Signature-Certificate decoding (base64 of DER or PEM)
// and the facts read off the certificate.
#include <cstdint>
#include <string>

#include "common/certificate.h"
#include "common/trust_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto decoded = dipgate::DecodeCertificateHeader(in);
  if (decoded) {
    dipgate::ReadCertificateInfo(decoded->leaf.get());
    dipgate::CheckEndEntityProfile(decoded->leaf.get());
  }
  return 0;
}
