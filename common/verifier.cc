#include "common/verifier.h"

#include <algorithm>

#include "common/ascii.h"
#include "common/base64.h"
#include "common/digest.h"
#include "common/headers.h"

namespace dipgate {
namespace {

Verdict Reject(Reason reason, std::string_view header, std::string detail) {
  Verdict v;
  v.reason = reason;
  v.header = std::string(header);
  v.detail = std::move(detail);
  return v;
}

}  // namespace

SignedRequest RequestOf(std::string_view method, std::string_view destination,
                        std::string_view body, const DipHeaders& headers) {
  SignedRequest r;
  r.method = method;
  r.destination = destination;
  r.body = body;
  r.signature = headers.signature;
  r.signature_date = headers.signature_date;
  r.certificate = headers.certificate;
  r.content_hash = headers.content_hash;
  return r;
}

Verifier::Verifier(std::shared_ptr<TrustStore> trust, VerifyPolicy policy)
    : trust_(std::move(trust)), policy_(std::move(policy)) {}

Verifier::CachedCert* Verifier::CachedOrValidatedCertificate(std::string_view value, UnixMillis now,
                                                           Verdict* verdict) {
  auto it = by_key_.find(value);
  if (it != by_key_.end()) {
    CachedCert& c = *it->second;
    if (c.generation == trust_->generation() && now >= c.valid_from && now < c.valid_until) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return &lru_.front();
    }
    auto stale = it->second;
    by_key_.erase(it);  // before the entry its key points into
    lru_.erase(stale);
  }

  auto decoded = DecodeCertificateHeader(value);
  if (!decoded) {
    *verdict = Reject(decoded.reason(), kCertificateHeader, decoded.error().detail);
    return nullptr;
  }
  auto validated = trust_->Validate(decoded->leaf.get(), decoded->extra.get(), now);
  if (!validated) {
    *verdict = Reject(validated.reason(), kCertificateHeader, validated.error().detail);
    if (auto info = ReadCertificateInfo(decoded->leaf.get())) {
      verdict->signer = std::make_shared<const CertificateInfo>(std::move(*info));
    }
    return nullptr;
  }
  auto verifier = SignatureVerifier::Create(X509_get0_pubkey(decoded->leaf.get()));
  if (!verifier) {
    *verdict = Reject(verifier.reason(), kCertificateHeader, verifier.error().detail);
    return nullptr;
  }
  CachedCert entry;
  entry.key = std::string(value);
  entry.verifier = std::make_shared<SignatureVerifier>(std::move(*verifier));
  entry.valid_from = validated->info.not_before;
  entry.valid_until = validated->valid_until;
  entry.generation = validated->generation;
  entry.info = std::make_shared<const CertificateInfo>(std::move(validated->info));
  lru_.push_front(std::move(entry));
  by_key_.emplace(lru_.front().key, lru_.begin());
  while (lru_.size() > std::max<size_t>(policy_.certificate_cache_capacity, 1)) {
    by_key_.erase(lru_.back().key);
    lru_.pop_back();
  }
  return &lru_.front();
}

bool Verifier::Allowed(const CertificateInfo& info) const {
  const SenderAllowList& a = policy_.allow;
  if (a.empty()) return true;
  for (const auto& s : a.subjects) if (s == info.subject) return true;
  for (const auto& o : a.organizations) if (o == info.organization) return true;
  for (const auto& f : a.fingerprints) {
    std::string flat;
    for (char c : f) if (c != ':') flat.push_back(c);
    if (EqualsNoCase(flat, info.fingerprint)) return true;
  }
  return false;
}

void Verifier::ExpireReplayEntries(UnixMillis now) {
  while (!replay_by_expiry_.empty() && replay_by_expiry_.begin()->first <= now) {
    replay_.erase(replay_by_expiry_.begin()->second);
    replay_by_expiry_.erase(replay_by_expiry_.begin());
  }
}

ReplayState Verifier::Hold(std::string_view signature, UnixMillis hold_until, UnixMillis expiry,
                           UnixMillis now) {
  std::string key(signature);
  if (auto it = replay_.find(key); it != replay_.end()) {
    if (it->second.accepted) return ReplayState::kAccepted;
    if (it->second.hold_until > now) return ReplayState::kHeld;
    it->second.hold_until = hold_until;  // a lapsed hold: this request's now
    return ReplayState::kNew;
  }
  while (replay_.size() >= std::max<size_t>(policy_.replay_capacity, 1) &&
         !replay_by_expiry_.empty()) {
    replay_.erase(replay_by_expiry_.begin()->second);
    replay_by_expiry_.erase(replay_by_expiry_.begin());
  }
  replay_.emplace(key, ReplayEntry{expiry, hold_until, false});
  replay_by_expiry_.emplace(expiry, std::move(key));
  return ReplayState::kNew;
}

void Verifier::SettleOwn(std::string_view signature, bool accepted) {
  auto it = replay_.find(std::string(signature));
  if (it == replay_.end()) return;
  if (accepted) {
    it->second.accepted = true;
  } else {
    replay_.erase(it);  // its item in replay_by_expiry_ goes when it expires
  }
}

void Verifier::Settle(const Verdict& verdict, bool accepted) {
  if (verdict.replay_hold.empty()) return;
  if (policy_.replay_store != nullptr) {
    policy_.replay_store->Settle(verdict.replay_hold, accepted);
  } else {
    SettleOwn(verdict.replay_hold, accepted);
  }
}

Verdict Verifier::Verify(const SignedRequest& r, UnixMillis now) {
  auto reloaded = trust_->ReloadIfChanged(now);
  reload_error_ = reloaded ? std::string() : reloaded.error().detail;
  ExpireReplayEntries(now);

  // 1. Every header is present.
  const std::pair<std::string_view, std::string_view> required[] = {
      {kSignatureHeader, r.signature},
      {kSignatureDateHeader, r.signature_date},
      {kCertificateHeader, r.certificate},
      {kContentHashHeader, r.content_hash},
  };
  for (const auto& [name, value] : required) {
    if (value.empty()) {
      return Reject(Reason::kMissingHeader, name, std::string(name) + " is missing or empty");
    }
  }

  // 2. The date parses and is fresh.
  auto date = ParseSignatureDate(r.signature_date);
  if (!date) {
    return Reject(Reason::kBadDate, kSignatureDateHeader,
                  "X-DIP-Signature-Date is not an ISO 8601 UTC timestamp");
  }
  if (*date < now - policy_.max_age_ms) {
    Verdict v = Reject(Reason::kStaleDate, kSignatureDateHeader,
                       "signature date is " + std::to_string((now - *date) / 1000) +
                           " s old (window " + std::to_string(policy_.max_age_ms / 1000) + " s)");
    v.signature_date = *date;
    return v;
  }
  if (*date > now + policy_.max_future_ms) {
    Verdict v = Reject(Reason::kFutureDate, kSignatureDateHeader,
                       "signature date is " + std::to_string((*date - now) / 1000) +
                           " s in the future (allowed skew " +
                           std::to_string(policy_.max_future_ms / 1000) + " s)");
    v.signature_date = *date;
    return v;
  }

  // 3. The content hash header matches the body as received.
  std::string body_hash = r.body_hash ? *r.body_hash : ContentHash(r.body);
  if (!ConstantTimeEquals(body_hash, r.content_hash)) {
    return Reject(Reason::kContentHashMismatch, kContentHashHeader,
                  "X-DIP-Content-Hash does not match SHA-256 of the body");
  }

  // 4. The signature decodes.
  auto sig = Base64Decode(r.signature);
  if (!sig || sig->empty()) {
    return Reject(Reason::kBadBase64, kSignatureHeader, "X-DIP-Signature is not valid base64");
  }

  // 5. The certificate is trusted and valid (cached after the first time).
  Verdict verdict;
  CachedCert* cert = CachedOrValidatedCertificate(r.certificate, now, &verdict);
  if (cert == nullptr) {
    verdict.signature_date = *date;
    return verdict;
  }

  // 6. The signature verifies over the rebuilt signature string, using the
  //    date exactly as received and the hash of the body received.
  bool good = cert->verifier->Verify(
      SignatureString(r.method, r.destination, r.signature_date, body_hash), *sig);
  if (!good) {
    auto candidates = CandidateSignatureStrings(r.method, r.destination, r.signature_date,
                                                body_hash);
    for (size_t i = 1; i < candidates.size() && !good; ++i) {
      good = cert->verifier->Verify(candidates[i], *sig);
    }
  }
  Verdict out;
  out.signer = cert->info;
  out.signature_date = *date;
  if (!good) {
    out.reason = Reason::kSignatureMismatch;
    out.header = std::string(kSignatureHeader);
    out.detail = "X-DIP-Signature does not verify over " + std::string(r.method) + " " +
                 std::string(r.destination) + " with the signer's key";
    return out;
  }

  // 7. The signer is allowed, and this signature was not seen before.
  if (!Allowed(*cert->info)) {
    out.reason = Reason::kSignerNotAllowed;
    out.header = std::string(kCertificateHeader);
    out.detail = "signer '" + cert->info->subject + "' is not on the allow-list";
    return out;
  }
  if (policy_.replay_protection) {
    UnixMillis expiry = *date + policy_.max_age_ms;
    UnixMillis hold_until = now + policy_.replay_hold_ms;
    Result<ReplayState> state =
        policy_.replay_store != nullptr
            ? policy_.replay_store->Hold(*sig, hold_until, expiry, now)
            : Result<ReplayState>(Hold(*sig, hold_until, expiry, now));
    if (!state) {
      out.reason = Reason::kInternalError;
      out.detail = "replay protection: " + state.error().detail;
      return out;
    }
    if (*state == ReplayState::kAccepted) {
      out.reason = Reason::kReplayed;
      out.header = std::string(kSignatureHeader);
      out.detail = "this signature was already accepted within the freshness window";
      return out;
    }
    if (*state == ReplayState::kHeld) {
      out.reason = Reason::kReplayInProgress;
      out.header = std::string(kSignatureHeader);
      out.detail = "a request with this signature is still being answered: retry once it is "
                   "(accepted, a retry is refused as replayed; refused, it is verified again)";
      return out;
    }
    out.replay_hold = std::string(*sig);
  }
  out.reason = Reason::kOk;
  return out;
}

}  // namespace dipgate
