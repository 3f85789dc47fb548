// Signing identities and the DIP headers a sender emits (CoCo 8.4). A DIP
// connection provider signs for several market participants, so identities
// are named and kept side by side in an IdentitySet.
#ifndef DIPGATE_COMMON_SIGNER_H_
#define DIPGATE_COMMON_SIGNER_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/certificate.h"
#include "common/headers.h"
#include "common/signature.h"

namespace dipgate {

// Where an identity's certificate and key come from. Either `pkcs12_file`
// (certificate and key in one password-protected file, CoCo 6.2), or
// `certificate_file` + `key_file` (PEM or DER; the key may be encrypted
// PKCS#8 or a legacy encrypted PEM). `passphrase_file` holds the passphrase
// on its first line.
struct KeySource {
  std::string name;
  std::string certificate_file;
  std::string key_file;
  std::string pkcs12_file;
  std::string passphrase_file;
};

struct SigningIdentity {
  std::string name;
  X509Ptr certificate;
  PkeyPtr key;
  std::string certificate_header;  // base64 DER, computed once
  CertificateInfo info;
  std::vector<std::string> warnings;  // e.g. key file readable by others
};

// Loads and checks an identity: the files are readable, the passphrase
// opens the key, the key matches the certificate and is RSA or EC P-256.
// Errors name the file and never include the passphrase.
Result<std::shared_ptr<const SigningIdentity>> LoadIdentity(const KeySource& source);

// Signs requests for one identity. Not thread-safe; Clone() for another
// thread.
class RequestSigner {
 public:
  static Result<RequestSigner> Create(std::shared_ptr<const SigningIdentity> identity);

  // Headers for `method` to `destination` with `body` at `now`.
  Result<DipHeaders> Sign(std::string_view method, std::string_view destination,
                          std::string_view body, UnixMillis now);
  // Same, for a body hashed as it streamed (ContentHasher).
  Result<DipHeaders> SignHashed(std::string_view method, std::string_view destination,
                                std::string content_hash, UnixMillis now);

  Result<RequestSigner> Clone() const;
  const SigningIdentity& identity() const { return *identity_; }

 private:
  std::shared_ptr<const SigningIdentity> identity_;
  std::shared_ptr<SignatureSigner> signer_;
};

// Named identities; a name appears once.
class IdentitySet {
 public:
  Status Add(std::shared_ptr<const SigningIdentity> identity);
  std::shared_ptr<const SigningIdentity> Find(std::string_view name) const;
  size_t size() const { return by_name_.size(); }
  std::vector<std::string> names() const;

 private:
  std::map<std::string, std::shared_ptr<const SigningIdentity>, std::less<>> by_name_;
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_SIGNER_H_
