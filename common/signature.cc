#include "common/signature.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <cstring>

namespace dipgate {
namespace {

constexpr size_t kP256FieldBytes = 32;

const EVP_MD* FetchMd(const char* name) {
  // Each digest is fetched once per process; fetching per operation is the
  // main overhead OpenSSL 3 adds over a prepared context.
  static EVP_MD* sha224 = EVP_MD_fetch(nullptr, "SHA224", nullptr);
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  if (strcmp(name, "SHA256") == 0) return sha256;
  if (strcmp(name, "SHA224") == 0) return sha224;
  if (strcmp(name, "SHA384") == 0) return sha384;
  if (strcmp(name, "SHA512") == 0) return sha512;
  return nullptr;
}

// Prepares a context for sign or verify with the digest and, for RSA,
// PKCS#1 v1.5 padding.
Result<PkeyCtxPtr> PrepareCtx(EVP_PKEY* key, KeyType type, const EVP_MD* md, bool sign) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx) return Error{Reason::kInternalError, "EVP_PKEY_CTX_new: " + TakeOpensslError()};
  int ok = sign ? EVP_PKEY_sign_init(ctx.get()) : EVP_PKEY_verify_init(ctx.get());
  if (ok <= 0 || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0 ||
      (type == KeyType::kRsa && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0)) {
    return Error{Reason::kInternalError, "preparing key context: " + TakeOpensslError()};
  }
  return ctx;
}

}  // namespace

Status DigestWith(EVP_MD_CTX* ctx, const EVP_MD* md, std::string_view message,
                  unsigned char* out, unsigned int* out_len) {
  if (ctx == nullptr) return Error{Reason::kInternalError, "digest: no context (out of memory)"};
  if (EVP_DigestInit_ex(ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx, message.data(), message.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out, out_len) != 1) {
    return Error{Reason::kInternalError, "digest: " + TakeOpensslError()};
  }
  return OkStatus();
}

Result<KeyType> ClassifyKey(EVP_PKEY* key) {
  if (key == nullptr) return Error{Reason::kInternalError, "no key"};
  if (EVP_PKEY_is_a(key, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(key, "EC")) {
    auto allowed = CheckKeyStrength(key, KeyRole::kSigning, "signing key");
    if (!allowed) return allowed.error();
    return KeyType::kEcP256;
  }
  return Error{Reason::kWeakKey,
               std::string("unsupported key type ") + EVP_PKEY_get0_type_name(key)};
}

Result<SignatureVerifier> SignatureVerifier::Create(EVP_PKEY* key, const char* md_name) {
  auto type = ClassifyKey(key);
  if (!type) return type.error();
  const EVP_MD* md = FetchMd(md_name);
  if (md == nullptr) return Error{Reason::kInternalError, std::string("digest ") + md_name};
  auto ctx = PrepareCtx(key, *type, md, /*sign=*/false);
  if (!ctx) return ctx.error();
  SignatureVerifier v;
  v.ctx_ = std::move(*ctx);
  v.md_ = md;
  v.type_ = *type;
  return v;
}

bool SignatureVerifier::VerifyDigest(const unsigned char* digest, size_t digest_len,
                                     std::string_view sig) {
  int rc = EVP_PKEY_verify(ctx_.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                           sig.size(), digest, digest_len);
  if (rc != 1) ERR_clear_error();
  return rc == 1;
}

bool SignatureVerifier::Verify(std::string_view message, std::string_view signature,
                               EcdsaEncoding encoding) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (!DigestWith(md_ctx_.get(), md_, message, digest, &digest_len)) return false;
  if (type_ == KeyType::kRsa) return VerifyDigest(digest, digest_len, signature);

  bool p1363_first = encoding == EcdsaEncoding::kP1363 ||
                     (encoding == EcdsaEncoding::kAny && signature.size() == 2 * kP256FieldBytes);
  if (p1363_first) {
    auto der = EcdsaP1363ToDer(signature);
    if (der && VerifyDigest(digest, digest_len, *der)) return true;
    if (encoding == EcdsaEncoding::kP1363) return false;
  }
  // OpenSSL's ECDSA verify insists on canonical DER (it re-encodes and
  // compares), so BER variants and trailing bytes are rejected.
  return VerifyDigest(digest, digest_len, signature);
}

Result<SignatureSigner> SignatureSigner::Create(EVP_PKEY* key, const char* md_name) {
  auto type = ClassifyKey(key);
  if (!type) return type.error();
  const EVP_MD* md = FetchMd(md_name);
  if (md == nullptr) {
    return Error{Reason::kInternalError,
                 std::string("refusing to sign with digest ") + md_name + " (SHA-2 only)"};
  }
  auto ctx = PrepareCtx(key, *type, md, /*sign=*/true);
  if (!ctx) return ctx.error();
  SignatureSigner s;
  s.ctx_ = std::move(*ctx);
  s.md_ = md;
  s.type_ = *type;
  s.max_sig_len_ = static_cast<size_t>(EVP_PKEY_get_size(key));
  return s;
}

Result<std::string> SignatureSigner::Sign(std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (auto hashed = DigestWith(md_ctx_.get(), md_, message, digest, &digest_len); !hashed) {
    return hashed.error();
  }
  std::string sig(max_sig_len_, '\0');
  size_t len = sig.size();
  if (EVP_PKEY_sign(ctx_.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, digest,
                    digest_len) != 1) {
    return Error{Reason::kInternalError, "EVP_PKEY_sign: " + TakeOpensslError()};
  }
  sig.resize(len);
  return sig;
}

Result<SignatureSigner> SignatureSigner::Clone() const {
  SignatureSigner s;
  s.ctx_.reset(EVP_PKEY_CTX_dup(ctx_.get()));
  if (!s.ctx_) return Error{Reason::kInternalError, "EVP_PKEY_CTX_dup: " + TakeOpensslError()};
  s.md_ = md_;
  s.type_ = type_;
  s.max_sig_len_ = max_sig_len_;
  return s;
}

Result<std::string> EcdsaP1363ToDer(std::string_view p1363) {
  if (p1363.size() != 2 * kP256FieldBytes) {
    return Error{Reason::kSignatureMismatch, "P1363 ECDSA signature of " +
                                                 std::to_string(p1363.size()) +
                                                 " bytes (P-256 r||s is 64)"};
  }
  const auto* p = reinterpret_cast<const unsigned char*>(p1363.data());
  OsslPtr<ECDSA_SIG, ECDSA_SIG_free> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(p, kP256FieldBytes, nullptr);
  BIGNUM* s = BN_bin2bn(p + kP256FieldBytes, kP256FieldBytes, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Error{Reason::kInternalError, "ECDSA_SIG_set0: " + TakeOpensslError()};
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return Error{Reason::kInternalError, "i2d_ECDSA_SIG: " + TakeOpensslError()};
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

Result<std::string> EcdsaDerToP1363(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OsslPtr<ECDSA_SIG, ECDSA_SIG_free> sig(d2i_ECDSA_SIG(nullptr, &p, der.size()));
  if (!sig) {
    ERR_clear_error();
    return Error{Reason::kSignatureMismatch, "ECDSA signature is not DER"};
  }
  std::string out(2 * kP256FieldBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, kP256FieldBytes) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + kP256FieldBytes, kP256FieldBytes) < 0) {
    ERR_clear_error();
    return Error{Reason::kSignatureMismatch, "ECDSA r or s longer than 32 bytes (not P-256)"};
  }
  return out;
}

}  // namespace dipgate
