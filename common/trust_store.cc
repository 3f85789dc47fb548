#include "common/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include "common/cert_profile.h"
#include "common/files.h"

namespace dipgate {

struct TrustStore::State {
  X509StorePtr store;
  std::vector<std::pair<std::string, struct timespec>> files;  // path, mtime
  UnixMillis earliest_crl_next_update = INT64_MAX;
  uint64_t generation = 0;
  TrustStatus status;
};

namespace {

Result<std::vector<X509CrlPtr>> LoadCrls(const std::string& path) {
  auto read = ReadWholeFile(path);
  if (!read) return Error{read.reason(), "CRL file: " + read.error().detail};
  const std::string& data = *read;
  std::vector<X509CrlPtr> out;
  if (data.find("-----BEGIN") != std::string::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    while (X509_CRL* c = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      out.emplace_back(c);
    }
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    if (X509_CRL* c = d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size()))) {
      out.emplace_back(c);
    }
  }
  ERR_clear_error();
  if (out.empty()) return Error{Reason::kInternalError, "no CRL in " + path};
  return out;
}

bool Mtime(const std::string& path, struct timespec* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  *out = st.st_mtim;
  return true;
}

Result<std::shared_ptr<TrustStore::State>> LoadState(const TrustOptions& o, uint64_t generation) {
  auto state = std::make_shared<TrustStore::State>();
  state->generation = generation;
  state->store.reset(X509_STORE_new());
  if (!state->store) return Error{Reason::kInternalError, "X509_STORE_new failed"};
  size_t cas = 0;
  for (const auto& path : o.ca_files) {
    auto certs = LoadCertificates(path);
    if (!certs) return Error{Reason::kInternalError, "trusted CA file: " + certs.error().detail};
    for (auto& c : *certs) {
      if (X509_STORE_add_cert(state->store.get(), c.get()) != 1) ERR_clear_error();
      ++cas;
      auto not_after = Asn1TimeToMillis(X509_get0_notAfter(c.get()));
      state->status.cas.push_back(
          {NameToString(X509_get_subject_name(c.get())), not_after ? *not_after : 0});
    }
    struct timespec ts {};
    Mtime(path, &ts);
    state->files.emplace_back(path, ts);
  }
  for (const auto& path : o.crl_files) {
    auto crls = LoadCrls(path);
    if (!crls) return crls.error();
    for (auto& c : *crls) {
      // RFC 5280 5.2.3: conforming CAs include the CRL number in every CRL.
      auto* number = static_cast<ASN1_INTEGER*>(
          X509_CRL_get_ext_d2i(c.get(), NID_crl_number, nullptr, nullptr));
      if (number == nullptr) {
        ERR_clear_error();
        return Error{Reason::kInternalError, "CRL in " + path + " (issuer " +
                                                 NameToString(X509_CRL_get_issuer(c.get())) +
                                                 ") has no CRL number (RFC 5280 5.2.3)"};
      }
      ASN1_INTEGER_free(number);
      if (X509_STORE_add_crl(state->store.get(), c.get()) != 1) ERR_clear_error();
      const ASN1_TIME* next = X509_CRL_get0_nextUpdate(c.get());
      if (next != nullptr) {
        auto next_update = Asn1TimeToMillis(next);
        if (!next_update) {
          return Error{Reason::kInternalError, "CRL in " + path + " (issuer " +
                                                   NameToString(X509_CRL_get_issuer(c.get())) +
                                                   "): nextUpdate " + next_update.error().detail};
        }
        state->earliest_crl_next_update =
            std::min(state->earliest_crl_next_update, *next_update);
      }
      state->status.crls.push_back(
          {NameToString(X509_CRL_get_issuer(c.get())),
           next == nullptr ? INT64_MAX : *Asn1TimeToMillis(next)});
    }
    struct timespec ts {};
    Mtime(path, &ts);
    state->files.emplace_back(path, ts);
  }
  if (cas == 0) return Error{Reason::kInternalError, "no trusted CA certificate configured"};
  state->status.loaded_at = WallClockMillis();
  return state;
}

// OpenSSL faults that RFC 5280 does not make: a certificate is valid through
// its notAfter second inclusive (4.1.2.5), and a CA certificate without
// keyUsage may sign certificates and CRLs (6.1.4 (n), 6.3.3 (f) check the
// bits only when the extension is present).
bool RfcAllows(int err, X509_STORE_CTX* ctx) {
  if (err == X509_V_ERR_CA_CERT_MISSING_KEY_USAGE) return true;
  if (err != X509_V_ERR_CERT_HAS_EXPIRED) return false;
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  time_t at = X509_VERIFY_PARAM_get_time(X509_STORE_CTX_get0_param(ctx));
  return cert != nullptr && ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), at) == 0;
}

int StrictCallback(int ok, X509_STORE_CTX* ctx) {
  return !ok && RfcAllows(X509_STORE_CTX_get_error(ctx), ctx) ? 1 : ok;
}

int AllowExpiredCrlCallback(int ok, X509_STORE_CTX* ctx) {
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_CRL_HAS_EXPIRED) return 1;
  return StrictCallback(ok, ctx);
}

Error MapVerifyError(int err, int depth) {
  std::string text = Where(depth) + ": " + X509_verify_cert_error_string(err);
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return {Reason::kCertificateExpired, text};
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {Reason::kCertificateNotYetValid, text};
    case X509_V_ERR_CERT_REVOKED:
      return {Reason::kCertificateRevoked, text};
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
      return {Reason::kRevocationUnknown, text};
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
      return {Reason::kCrlExpired, text};
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
      return {Reason::kCertificateUntrusted, text};
    case X509_V_ERR_INVALID_PURPOSE:
      return {Reason::kWrongKeyUsage, text};
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
      return {Reason::kWeakKey, text};
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return {Reason::kCertificateMalformed, text};
    case X509_V_ERR_OUT_OF_MEM:
      return {Reason::kInternalError, text};
    default:
      // Unknown issuer, self-signed, bad signature on a certificate, and
      // the strict-mode encoding faults: the chain does not lead to a
      // configured DIP CA.
      return {Reason::kCertificateUntrusted, text};
  }
}

}  // namespace

std::vector<std::string> RelaxedChecks(const TrustOptions& options) {
  std::vector<std::string> relaxed;
  if (options.revocation == Revocation::kOff) {
    relaxed.push_back("revocation checking is off: revoked signing certificates are accepted");
  } else if (options.allow_expired_crl) {
    relaxed.push_back(
        "CRLs past their nextUpdate are used: revocations published since are missed");
  }
  if (options.environment == Environment::kAny) {
    relaxed.push_back(
        "any environment prefix is accepted (energydip-prod. and energydip-nonprod.)");
  }
  return relaxed;
}

Result<std::shared_ptr<TrustStore>> TrustStore::Create(TrustOptions options) {
  if (options.ca_files.empty()) {
    return Error{Reason::kInternalError, "no trusted CA file configured (the system store is "
                                         "never used)"};
  }
  if (options.revocation == Revocation::kRequireCrl && options.crl_files.empty()) {
    return Error{Reason::kInternalError,
                 "no CRL file configured; revocation checking fails closed (turn it off "
                 "explicitly to run without CRLs)"};
  }
  if (options.environment != Environment::kAny && options.environment != Environment::kProd &&
      options.environment != Environment::kNonProd) {
    return Error{Reason::kInternalError, "environment must be prod, nonprod or any"};
  }
  auto state = LoadState(options, 1);
  if (!state) return state.error();
  std::shared_ptr<TrustStore> store(new TrustStore(std::move(options)));
  store->state_ = std::move(*state);
  return store;
}

std::shared_ptr<const TrustStore::State> TrustStore::state() const {
  return std::atomic_load(&state_);
}

uint64_t TrustStore::generation() const { return state()->generation; }

TrustStatus TrustStore::Status() const { return state()->status; }

Result<bool> TrustStore::ReloadIfChanged(UnixMillis now) {
  if (now < next_check_.load(std::memory_order_relaxed)) return false;
  next_check_.store(now + options_.reload_interval_ms, std::memory_order_relaxed);
  auto current = state();
  bool changed = false;
  for (const auto& [path, ts] : current->files) {
    struct timespec now_ts {};
    if (!Mtime(path, &now_ts) || now_ts.tv_sec != ts.tv_sec || now_ts.tv_nsec != ts.tv_nsec) {
      changed = true;
      break;
    }
  }
  if (!changed) return false;
  auto fresh = LoadState(options_, current->generation + 1);
  if (!fresh) return fresh.error();
  std::atomic_store(&state_, std::shared_ptr<const State>(std::move(*fresh)));
  return true;
}

Result<ValidatedCertificate> TrustStore::Validate(X509* leaf, STACK_OF(X509) * extra,
                                                  UnixMillis now) const {
  auto profile = CheckEndEntityProfile(leaf);
  if (!profile) return profile.error();

  auto st = state();
  unsigned long base_flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_USE_CHECK_TIME;
  // Revocation source: CRLs (see Revocation in trust_store.h for OCSP).
  if (options_.revocation == Revocation::kRequireCrl) {
    base_flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  }
  // OpenSSL builds one path and does not backtrack. When it fails, or the
  // path fails CheckChainProfile, try again without the untrusted
  // intermediate at fault (a cross-signed or constrained alternative may
  // lead to a trust anchor), and, when the
  // path ended below a configured CA that is not self-signed, with that CA
  // as the anchor (RFC 5280 6.1.1 (d)). Bounded: at most kAttempts tries.
  // The first failure is the one reported.
  constexpr int kAttempts = 12;
  X509StackPtr candidates(extra != nullptr ? sk_X509_dup(extra) : sk_X509_new_null());
  if (!candidates) return Error{Reason::kInternalError, "out of memory"};
  bool partial = false;
  std::optional<Error> first_error;
  X509StoreCtxPtr ctx;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ctx.reset(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), st->store.get(), leaf, candidates.get()) != 1) {
      return Error{Reason::kInternalError, "X509_STORE_CTX_init: " + TakeOpensslError()};
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_flags(param, base_flags | (partial ? X509_V_FLAG_PARTIAL_CHAIN : 0));
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now / 1000));
    X509_STORE_CTX_set_verify_cb(
        ctx.get(), options_.allow_expired_crl ? AllowExpiredCrlCallback : StrictCallback);
    int err = X509_V_OK;
    int depth = 0;
    if (X509_verify_cert(ctx.get()) == 1) {
      auto chain_profile = CheckChainProfile(X509_STORE_CTX_get0_chain(ctx.get()), &depth);
      if (chain_profile) break;
      if (!first_error) first_error = chain_profile.error();
    } else {
      err = X509_STORE_CTX_get_error(ctx.get());
      depth = X509_STORE_CTX_get_error_depth(ctx.get());
      if (!first_error) first_error = MapVerifyError(err, depth);
    }
    ERR_clear_error();
    X509* failed = sk_X509_value(X509_STORE_CTX_get0_chain(ctx.get()), depth);
    int index = -1;
    for (int i = 0; depth > 0 && failed != nullptr && i < sk_X509_num(candidates.get()); ++i) {
      if (X509_cmp(sk_X509_value(candidates.get(), i), failed) == 0) index = i;
    }
    bool unanchored = err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                      err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    if (unanchored && !partial) {
      partial = true;
    } else if (index >= 0) {
      sk_X509_delete(candidates.get(), index);
    } else {
      return *first_error;
    }
    if (attempt + 1 == kAttempts) return *first_error;
  }

  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  if (options_.max_chain_depth >= 0) {
    int intermediates = CountedIntermediates(chain);
    if (intermediates > options_.max_chain_depth) {
      return Error{Reason::kCertificateUntrusted,
                   "chain has " + std::to_string(intermediates) + " intermediate CAs; at most " +
                       std::to_string(options_.max_chain_depth) + " allowed"};
    }
  }

  // OpenSSL has checked the times; one it could read but we cannot is still
  // refused (fails closed), naming the certificate and the field.
  ValidatedCertificate out;
  auto info = ReadCertificateInfo(leaf);
  if (!info) return Error{info.reason(), Where(0) + ": " + info.error().detail};
  out.info = std::move(*info);
  out.generation = st->generation;
  out.valid_until = out.info.not_after;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    auto not_after = Asn1TimeToMillis(X509_get0_notAfter(sk_X509_value(chain, i)));
    if (!not_after) {
      return Error{not_after.reason(), Where(i) + ": notAfter " + not_after.error().detail};
    }
    out.valid_until = std::min(out.valid_until, *not_after);
  }
  if (options_.revocation == Revocation::kRequireCrl && !options_.allow_expired_crl) {
    out.valid_until = std::min(out.valid_until, st->earliest_crl_next_update);
  }
  if (options_.environment != Environment::kAny &&
      out.info.environment != options_.environment) {
    return Error{Reason::kWrongEnvironment,
                 "signer CN '" + out.info.common_name + "' is not for the " +
                     std::string(ToString(options_.environment)) +
                     " environment (expected prefix energydip-" +
                     std::string(ToString(options_.environment)) + ".)"};
  }
  ERR_clear_error();
  return out;
}

}  // namespace dipgate
