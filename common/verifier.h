// Verification of a signed DIP message (CoCo 8.5), with freshness, replay
// protection, a cache of validated certificates and a sender allow-list.
//
//   Verifier v(trust, policy);
//   Verdict verdict = v.Verify(request, WallClockMillis());
//   if (!verdict.ok()) reject(verdict.reason, verdict.header, verdict.detail);
//
// Not thread-safe (its caches are per instance): one per nginx worker or per
// thread. The TrustStore may be shared.
#ifndef DIPGATE_COMMON_VERIFIER_H_
#define DIPGATE_COMMON_VERIFIER_H_

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/canonical.h"
#include "common/headers.h"
#include "common/signature.h"
#include "common/trust_store.h"

namespace dipgate {

// What arrived. Header values are empty when the header was absent.
struct SignedRequest {
  std::string_view method;
  std::string_view destination;  // full URL the message was received on
  std::string_view body;         // exact bytes; ignored if body_hash is set
  std::optional<std::string> body_hash;  // ContentHash() of a streamed body
  std::string_view signature;
  std::string_view signature_date;
  std::string_view certificate;
  std::string_view content_hash;
};

// A request over headers held elsewhere (dipgate's own output, a peer's).
SignedRequest RequestOf(std::string_view method, std::string_view destination,
                        std::string_view body, const DipHeaders& headers);

// Signers allowed when any list is non-empty: a signer passes if it matches
// an entry of any list (exact subject one-line, organisation, or SHA-256
// fingerprint in hex, case-insensitive).
struct SenderAllowList {
  std::vector<std::string> subjects;
  std::vector<std::string> organizations;
  std::vector<std::string> fingerprints;
  bool empty() const { return subjects.empty() && organizations.empty() && fingerprints.empty(); }
};

// Where signatures are remembered for replay protection. Without one, the
// Verifier keeps them itself (one process); nginx supplies one in shared
// memory, so a replay is caught whichever worker it reaches.
//
// A signature counts as seen only once a request carrying it was answered
// with success (what the DIP takes as delivered). Verify holds a new
// signature for its request; the caller settles the hold with the answer:
// accepted, it is kept until it expires; otherwise it is forgotten, so the
// sender's retry of the same request is verified afresh, not refused.
enum class ReplayState {
  kNew,       // not held: now held for this request, until settled
  kHeld,      // held by a request not answered yet
  kAccepted,  // a request with it was answered with success
};

class ReplayStore {
 public:
  virtual ~ReplayStore() = default;
  // Holds `signature` (decoded bytes) for a request until `hold_until`
  // (then a hold never settled lapses: a worker that died mid-request) and
  // remembers it until `expiry`; or says why not. An error (the store is
  // full) is internal_error: our fault, the sender retries.
  virtual Result<ReplayState> Hold(std::string_view signature, UnixMillis hold_until,
                                   UnixMillis expiry, UnixMillis now) = 0;
  // The request holding `signature` was answered: `accepted` keeps it as
  // seen until its expiry; otherwise it is forgotten.
  virtual void Settle(std::string_view signature, bool accepted) = 0;
};

struct VerifyPolicy {
  UnixMillis max_age_ms = 5 * 60 * 1000;     // oldest signature date accepted
  UnixMillis max_future_ms = 5 * 60 * 1000;  // clock skew ahead accepted
  bool replay_protection = false;
  UnixMillis replay_hold_ms = 5 * 60 * 1000;  // a hold never settled lapses after this
  ReplayStore* replay_store = nullptr;    // not owned; null: the Verifier's own
  size_t replay_capacity = 100000;        // own store: oldest entries evicted past this
  size_t certificate_cache_capacity = 1024;
  SenderAllowList allow;
};

struct Verdict {
  Reason reason = Reason::kInternalError;
  std::string header;  // the header that failed, when one did
  std::string detail;  // a sentence for logs
  // Known once the certificate decoded; shared with the certificate cache,
  // so a verdict costs no copy of it.
  std::shared_ptr<const CertificateInfo> signer;
  UnixMillis signature_date = 0;
  // The signature held for this request by replay protection (decoded
  // bytes): settle it with the answer (Verifier::Settle).
  std::string replay_hold;
  bool ok() const { return reason == Reason::kOk; }
};

class Verifier {
 public:
  Verifier(std::shared_ptr<TrustStore> trust, VerifyPolicy policy);

  Verdict Verify(const SignedRequest& request, UnixMillis now);
  // The request `verdict` was given for was answered; `accepted`: with
  // success (2xx). Nothing to do when the verdict holds no signature.
  void Settle(const Verdict& verdict, bool accepted);

  size_t cached_certificates() const { return lru_.size(); }
  size_t replay_entries() const { return replay_.size(); }
  // Set when the last trust reload failed (the previous state stays in use).
  const std::string& reload_error() const { return reload_error_; }
  const VerifyPolicy& policy() const { return policy_; }

 private:
  struct CachedCert {
    std::string key;  // the certificate header value
    std::shared_ptr<SignatureVerifier> verifier;
    std::shared_ptr<const CertificateInfo> info;
    uint64_t generation = 0;
    UnixMillis valid_from = 0;
    UnixMillis valid_until = 0;
  };

  // The header's certificate validated against the trust store: from the
  // cache while its validation holds (same trust generation, within
  // validity), otherwise decoded, validated and cached. nullptr with
  // `verdict` set when it does not validate.
  CachedCert* CachedOrValidatedCertificate(std::string_view header_value, UnixMillis now,
                                           Verdict* verdict);
  bool Allowed(const CertificateInfo& info) const;
  void ExpireReplayEntries(UnixMillis now);
  // The Verifier's own store: ReplayStore::Hold and Settle in one process.
  ReplayState Hold(std::string_view signature, UnixMillis hold_until, UnixMillis expiry,
                   UnixMillis now);
  void SettleOwn(std::string_view signature, bool accepted);

  std::shared_ptr<TrustStore> trust_;
  VerifyPolicy policy_;
  std::list<CachedCert> lru_;  // most recent first
  std::unordered_map<std::string_view, std::list<CachedCert>::iterator> by_key_;
  struct ReplayEntry {
    UnixMillis expiry = 0;
    UnixMillis hold_until = 0;
    bool accepted = false;
  };
  std::unordered_map<std::string, ReplayEntry> replay_;  // by signature
  // By expiry; a signature forgotten and held again has two items (with
  // the same expiry: it comes from the signature's date).
  std::multimap<UnixMillis, std::string> replay_by_expiry_;
  std::string reload_error_;
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_VERIFIER_H_
