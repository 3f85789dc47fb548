// Fuzz target: an OCSP response as a responder (or anyone on the way to it)
// may send it, checked for a certificate of a test PKI made once per
// process: with and without a nonce in the request. Every input gets one of
// the five verdicts and a reason in words; none is accepted that the PKI's
// CA did not sign (the fuzzer has no key of it).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/certificate.h"
#include "common/ocsp.h"
#include "common/pki.h"

namespace {

struct Fixture {
  dipgate::X509Ptr cert, issuer;
  dipgate::X509StorePtr trust;
  dipgate::OcspRequest plain, with_nonce;
};

Fixture* Make() {
  char tmpl[] = "/tmp/dipgate-fuzz-ocsp.XXXXXX";
  dipgate::PkiOptions o;
  o.directory = mkdtemp(tmpl);
  o.now = 1795421700000;
  if (!dipgate::CreateTestPki(o)) abort();
  auto* f = new Fixture;
  auto cert = dipgate::LoadCertificates(o.directory + "/signer-rsa.pem");
  auto issuer = dipgate::LoadCertificates(o.directory + "/issuing-ca.pem");
  if (!cert || !issuer) abort();
  f->cert = std::move(cert->front());
  f->issuer = std::move(issuer->front());
  f->trust.reset(X509_STORE_new());
  if (X509_STORE_load_file(f->trust.get(), (o.directory + "/ca-bundle.pem").c_str()) != 1) abort();
  auto plain = dipgate::MakeOcspRequest(f->cert.get(), f->issuer.get(), false);
  auto nonce = dipgate::MakeOcspRequest(f->cert.get(), f->issuer.get(), true);
  if (!plain || !nonce) abort();
  f->plain = *plain;
  f->with_nonce = *nonce;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* f = Make();
  std::string_view der(reinterpret_cast<const char*>(data), size);
  for (const dipgate::OcspRequest* request : {&f->plain, &f->with_nonce}) {
    dipgate::OcspStatus s = dipgate::CheckOcspResponse(der, *request, f->cert.get(),
                                                       f->issuer.get(), f->trust.get(),
                                                       1795421700000);
    if (s.detail.empty()) abort();  // a verdict always says why
    switch (s.reason) {
      case dipgate::Reason::kOcspResponseInvalid:
      case dipgate::Reason::kOcspUnavailable:
        break;
      default:
        abort();  // good, revoked or unknown needs the CA's signature
    }
  }
  return 0;
}
