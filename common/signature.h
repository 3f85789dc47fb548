// Signature primitives over OpenSSL 3 EVP: RSASSA-PKCS1-v1_5 and ECDSA
// P-256, with SHA-256 for DIP messages. A key's EVP_PKEY_CTX is prepared once
// and reused for every operation (what `openssl speed` measures), so a
// steady stream costs one hash and one public-key operation per message.
//
// Objects here are not thread-safe: use one per thread (Clone() is cheap).
#ifndef DIPGATE_COMMON_SIGNATURE_H_
#define DIPGATE_COMMON_SIGNATURE_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/key_policy.h"
#include "common/ossl.h"
#include "common/result.h"

namespace dipgate {

enum class KeyType { kRsa, kEcP256 };

// How an ECDSA signature is laid out. Java and OpenSSL write DER; .NET
// writes IEEE P1363 (r||s, 32 bytes each). kAny tries the form the length
// suggests, then the other.
enum class EcdsaEncoding { kAny, kDer, kP1363 };

// Accepts RSA (any size: policy on sizes belongs to certificate checks) and
// EC keys on P-256; anything else is kWeakKey with a detail naming the type.
Result<KeyType> ClassifyKey(EVP_PKEY* key);


class SignatureVerifier {
 public:
  // `md_name` e.g. "SHA256". The key is shared (up-ref'd), not copied.
  static Result<SignatureVerifier> Create(EVP_PKEY* public_key, const char* md_name = "SHA256");

  // True when `signature` is a valid signature over `message`.
  bool Verify(std::string_view message, std::string_view signature,
              EcdsaEncoding encoding = EcdsaEncoding::kAny);

  KeyType key_type() const { return type_; }

 private:
  bool VerifyDigest(const unsigned char* digest, size_t digest_len, std::string_view sig);
  PkeyCtxPtr ctx_;
  MdCtxPtr md_ctx_{EVP_MD_CTX_new()};  // reused: no allocation per message
  const EVP_MD* md_ = nullptr;
  KeyType type_ = KeyType::kRsa;
};

class SignatureSigner {
 public:
  // Refuses SHA-1 and unknown digests (kInternalError with a detail).
  static Result<SignatureSigner> Create(EVP_PKEY* private_key, const char* md_name = "SHA256");

  // RSA: PKCS#1 v1.5 signature. ECDSA: DER, as OpenSSL and Java write it.
  Result<std::string> Sign(std::string_view message);

  // An independent copy for another thread.
  Result<SignatureSigner> Clone() const;

  KeyType key_type() const { return type_; }

 private:
  PkeyCtxPtr ctx_;
  MdCtxPtr md_ctx_{EVP_MD_CTX_new()};
  const EVP_MD* md_ = nullptr;
  KeyType type_ = KeyType::kRsa;
  size_t max_sig_len_ = 0;
};

// Hashes `message` with `md` into `out` (EVP_MAX_MD_SIZE bytes), reusing
// `ctx`. kInternalError on failure (the error queue is cleared).
Status DigestWith(EVP_MD_CTX* ctx, const EVP_MD* md, std::string_view message,
                  unsigned char* out, unsigned int* out_len);

// r||s (64 bytes) <-> DER, for P-256. Input that is not a P-256 signature
// in the given form is kSignatureMismatch with a detail saying what is wrong.
Result<std::string> EcdsaP1363ToDer(std::string_view p1363);
Result<std::string> EcdsaDerToP1363(std::string_view der);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_SIGNATURE_H_
