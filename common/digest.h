// SHA-256 and the DIP content hash (CoCo 8.4 step 2, 8.5 step 3).
#ifndef DIPGATE_COMMON_DIGEST_H_
#define DIPGATE_COMMON_DIGEST_H_

#include <array>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace dipgate {

using Sha256 = std::array<unsigned char, 32>;

Sha256 Sha256Of(std::string_view bytes);

// The SHA-256 EVP_MD, fetched once for the process.
const EVP_MD* Sha256Md();

// Lower-case hex, e.g. for certificate fingerprints.
std::string Hex(const unsigned char* bytes, size_t len);

// Standard padded base64 of SHA-256 over the exact body bytes. An empty body
// (GET, DELETE) is hashed as the two bytes "{}" as the CoCo requires.
std::string ContentHash(std::string_view body);

// Incremental form for bodies that arrive in pieces (nginx buffers, files).
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;
  void Update(std::string_view piece);
  std::string Finish();  // base64, with the empty-body rule applied

 private:
  struct Impl;
  Impl* impl_;
  bool empty_ = true;
};

// Constant-time equality for secrets and hashes (CRYPTO_memcmp); differing
// lengths compare unequal without looking at the bytes.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_DIGEST_H_
