// Ownership of OpenSSL objects: every object lives in a unique_ptr with its
// own free function, so no failure path leaks and no caller frees by hand.
#ifndef DIPGATE_COMMON_OSSL_H_
#define DIPGATE_COMMON_OSSL_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace dipgate {

template <typename T, void (*Free)(T*)>
struct OsslDeleter {
  void operator()(T* p) const { Free(p); }
};

template <typename T, void (*Free)(T*)>
using OsslPtr = std::unique_ptr<T, OsslDeleter<T, Free>>;

inline void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void FreeCrlStack(STACK_OF(X509_CRL) * s) { sk_X509_CRL_pop_free(s, X509_CRL_free); }

using BioPtr = OsslPtr<BIO, BIO_free_all>;
using PkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using X509Ptr = OsslPtr<X509, X509_free>;
using X509CrlPtr = OsslPtr<X509_CRL, X509_CRL_free>;
using X509StorePtr = OsslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OsslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509StackPtr = OsslPtr<STACK_OF(X509), FreeX509Stack>;
using CrlStackPtr = OsslPtr<STACK_OF(X509_CRL), FreeCrlStack>;
using X509ReqPtr = OsslPtr<X509_REQ, X509_REQ_free>;
using X509NamePtr = OsslPtr<X509_NAME, X509_NAME_free>;
using Pkcs12Ptr = OsslPtr<PKCS12, PKCS12_free>;
using BignumPtr = OsslPtr<BIGNUM, BN_free>;
using Asn1TimePtr = OsslPtr<ASN1_TIME, ASN1_TIME_free>;

// Takes the oldest error off OpenSSL's queue as text and clears the queue:
// the nginx worker shares the queue with nginx's own TLS code, so no failure
// path may leave entries behind.
std::string TakeOpensslError();

}  // namespace dipgate

#endif  // DIPGATE_COMMON_OSSL_H_
