// Fuzz target: the whole verification call. The input is split on '\n'
// into method, destination, signature, date, certificate, content hash and
// body; verification runs against a test PKI made once per process.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/pki.h"
#include "common/verifier.h"

namespace {

dipgate::Verifier* MakeVerifier() {
  char tmpl[] = "/tmp/dipgate-fuzz-pki.XXXXXX";
  dipgate::PkiOptions o;
  o.directory = mkdtemp(tmpl);
  o.now = 1795421700000;
  if (!dipgate::CreateTestPki(o)) abort();
  dipgate::TrustOptions t;
  t.ca_files = {o.directory + "/ca-bundle.pem"};
  t.crl_files = {o.directory + "/crls.pem"};
  auto trust = dipgate::TrustStore::Create(t);
  if (!trust) abort();
  dipgate::VerifyPolicy p;
  p.replay_protection = true;
  p.replay_capacity = 64;
  p.certificate_cache_capacity = 8;
  return new dipgate::Verifier(*trust, p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dipgate::Verifier* verifier = MakeVerifier();
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> f;
  size_t start = 0;
  while (f.size() < 6) {
    size_t nl = in.find('\n', start);
    if (nl == std::string::npos) break;
    f.push_back(in.substr(start, nl - start));
    start = nl + 1;
  }
  f.resize(6);
  std::string body = start <= in.size() ? in.substr(start) : "";
  dipgate::SignedRequest r;
  r.method = f[0];
  r.destination = f[1];
  r.signature = f[2];
  r.signature_date = f[3];
  r.certificate = f[4];
  r.content_hash = f[5];
  r.body = body;
  dipgate::Verdict v = verifier->Verify(r, 1795421700000);
  if (v.ok() && v.signer == nullptr) abort();
  return 0;
}
