// The relying party's trust: the DIP CA certificates (root and issuing CAs)
// and their CRLs, never the system store. Validates a signer's certificate
// chain, validity, revocation, key usage, key strength and environment, plus
// the strict checks OpenSSL's default verification skips (CoCo 3.5, 5.7).
//
// Files are re-read when they change (checked at most every
// `reload_interval_ms`), without restart; a failed re-read keeps the last
// good state and reports why. Each successful load bumps generation(), which
// invalidates caches built on the previous state. Safe to share between
// threads; Validate() never blocks on a reload.
#ifndef DIPGATE_COMMON_TRUST_STORE_H_
#define DIPGATE_COMMON_TRUST_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/cert_profile.h"
#include "common/certificate.h"
#include "common/result.h"

namespace dipgate {

// How a certificate's revocation is checked. CRLs are checked by OpenSSL's
// path validation (TrustStore::Validate sets the CRL flags; the CRL files
// are loaded and reloaded with the CA files). A second source, OCSP (CoCo
// 3.5.2.6 allows either), plugs in here as another mode, answered in
// Validate after the path is built and the profile checked, mapping its
// outcomes to the same reasons (certificate_revoked, revocation_unknown).
enum class Revocation {
  kRequireCrl,  // every CA in the chain must have a current CRL (default)
  kOff,         // no revocation checking: only when the operator says so
};

struct TrustOptions {
  std::vector<std::string> ca_files;   // PEM bundles or DER files
  std::vector<std::string> crl_files;  // PEM or DER CRLs, one or more per file
  Revocation revocation = Revocation::kRequireCrl;
  bool allow_expired_crl = false;      // accept a CRL past nextUpdate
  Environment environment = Environment::kAny;  // required CN prefix
  UnixMillis reload_interval_ms = 5000;
  // Most intermediate CAs between a leaf and a trusted root (the DIP CA has
  // one); -1 leaves OpenSSL's limit (100).
  int max_chain_depth = -1;
};

// The checks `options` switches off, one sentence each, for the warning an
// operator must see at start (security checks fail closed unless turned off
// explicitly, and then loudly). Empty for the defaults.
std::vector<std::string> RelaxedChecks(const TrustOptions& options);

struct ValidatedCertificate {
  CertificateInfo info;
  UnixMillis valid_until = 0;  // earliest notAfter in the chain or CRL nextUpdate
  uint64_t generation = 0;
};

// What a trust store holds, for monitoring: each trusted CA's expiry, each
// CRL's nextUpdate, and when the files in use were loaded.
struct TrustStatus {
  struct Ca {
    std::string subject;
    UnixMillis not_after = 0;
  };
  struct Crl {
    std::string issuer;
    UnixMillis next_update = 0;  // INT64_MAX when the CRL has none
  };
  std::vector<Ca> cas;
  std::vector<Crl> crls;
  UnixMillis loaded_at = 0;  // wall clock of the load of these files
};

class TrustStore {
 public:
  // Fails (kInternalError, naming the file or option) when no CA is given,
  // a file is unreadable, or CRLs are required and none is given.
  static Result<std::shared_ptr<TrustStore>> Create(TrustOptions options);

  // Validates `leaf` at `now`, using `extra` (may be null) as untrusted
  // intermediates.
  Result<ValidatedCertificate> Validate(X509* leaf, STACK_OF(X509) * extra, UnixMillis now) const;

  // Re-reads the files if any changed since the last load and the check
  // interval has passed. ok(true) when reloaded, ok(false) when nothing
  // changed, an error (state unchanged) when the new files are bad.
  Result<bool> ReloadIfChanged(UnixMillis now);

  uint64_t generation() const;
  // The CAs and CRLs in use now.
  TrustStatus Status() const;
  const TrustOptions& options() const { return options_; }

  struct State;

 private:
  explicit TrustStore(TrustOptions options) : options_(std::move(options)) {}
  std::shared_ptr<const State> state() const;

  TrustOptions options_;
  std::shared_ptr<const State> state_;
  std::atomic<UnixMillis> next_check_{0};
};


}  // namespace dipgate

#endif  // DIPGATE_COMMON_TRUST_STORE_H_
