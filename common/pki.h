// Test PKI and certificate requests with the shape of the DIP CA (CoCo 3,
// 6.1.2, 8.6): an RSA-4096 root and issuing CA, RSA-2048 and ECDSA P-256
// signing certificates named energydip-<env>.<domain>, the faulty ones a
// relying party must refuse, CRLs, and TLS client/server certificates.
// For tests, demos and onboarding rehearsals only: real certificates come
// from the DIP portal.
#ifndef DIPGATE_COMMON_PKI_H_
#define DIPGATE_COMMON_PKI_H_

#include <string>
#include <vector>

#include "common/canonical.h"
#include "common/result.h"

namespace dipgate {

struct PkiOptions {
  std::string directory;               // created if absent
  std::string domain = "example.co.uk";
  std::string organization = "Example Energy Ltd";
  UnixMillis now = 0;                  // 0: the wall clock
  std::string passphrase = "dipgate-test-passphrase";
  // CRL distribution points: certificates issued by the issuing CA name
  // <base>/issuing-ca.crl, the issuing CA names <base>/root-ca.crl.
  std::string crl_url_base = "http://crl.example.invalid";
};

// Writes the PKI into options.directory and returns the files written. Key
// files are created with mode 0600. See docs/operator-guide.md for the list.
Result<std::vector<std::string>> CreateTestPki(const PkiOptions& options);

struct CsrOptions {
  std::string key_file;   // written, mode 0600
  std::string csr_file;   // written
  std::string key_type = "rsa";  // "rsa" (2048, TLS/signing) or "ec" (P-256 signing)
  int rsa_bits = 2048;
  std::string common_name;  // energydip-prod.<domain> or energydip-nonprod.<domain>
  std::string organization;
  std::string city;
  std::string state;
  std::string country;      // two letters
};

// A new key and a PKCS#10 request with the subject fields of CoCo Table 4.
// Refuses a CN without the energydip-prod./energydip-nonprod. prefix and a
// country that is not two letters.
Status CreateCsr(const CsrOptions& options);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_PKI_H_
