#include "common/digest.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/base64.h"
#include "common/ossl.h"

namespace dipgate {

const EVP_MD* Sha256Md() {
  // Fetched once: an implicit fetch on every init costs more than hashing
  // a small body.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

Sha256 Sha256Of(std::string_view bytes) {
  // EVP_Digest with the digest fetched once: OpenSSL 3's one-shot SHA256()
  // fetches the algorithm on every call, which costs more than hashing a
  // small message.
  Sha256 out;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), nullptr, Sha256Md(), nullptr);
  return out;
}

std::string Hex(const unsigned char* bytes, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

std::string ContentHash(std::string_view body) {
  Sha256 h = Sha256Of(body.empty() ? std::string_view("{}") : body);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

struct ContentHasher::Impl {
  MdCtxPtr ctx{EVP_MD_CTX_new()};
};

ContentHasher::ContentHasher() : impl_(new Impl) {
  EVP_DigestInit_ex(impl_->ctx.get(), Sha256Md(), nullptr);
}
ContentHasher::~ContentHasher() { delete impl_; }

void ContentHasher::Update(std::string_view piece) {
  if (piece.empty()) return;
  empty_ = false;
  EVP_DigestUpdate(impl_->ctx.get(), piece.data(), piece.size());
}

std::string ContentHasher::Finish() {
  if (empty_) EVP_DigestUpdate(impl_->ctx.get(), "{}", 2);
  Sha256 h;
  EVP_DigestFinal_ex(impl_->ctx.get(), h.data(), nullptr);
  EVP_DigestInit_ex(impl_->ctx.get(), Sha256Md(), nullptr);
  empty_ = true;
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace dipgate
