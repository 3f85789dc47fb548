#include "common/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/files.h"
#include "common/signature.h"

namespace dipgate {

struct TrustStore::State {
  X509StorePtr store;
  std::vector<std::pair<std::string, struct timespec>> files;  // path, mtime
  UnixMillis earliest_crl_next_update = INT64_MAX;
  uint64_t generation = 0;
};

namespace {

Result<std::vector<X509CrlPtr>> LoadCrls(const std::string& path) {
  std::string data;
  if (!ReadWholeFile(path, &data)) return Error{Reason::kInternalError, "cannot read CRL file " + path};
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
    }
    struct timespec ts {};
    Mtime(path, &ts);
    state->files.emplace_back(path, ts);
  }
  for (const auto& path : o.crl_files) {
    auto crls = LoadCrls(path);
    if (!crls) return crls.error();
    for (auto& c : *crls) {
      if (X509_STORE_add_crl(state->store.get(), c.get()) != 1) ERR_clear_error();
      const ASN1_TIME* next = X509_CRL_get0_nextUpdate(c.get());
      if (next != nullptr) {
        state->earliest_crl_next_update =
            std::min(state->earliest_crl_next_update, Asn1TimeToMillis(next));
      }
    }
    struct timespec ts {};
    Mtime(path, &ts);
    state->files.emplace_back(path, ts);
  }
  if (cas == 0) return Error{Reason::kInternalError, "no trusted CA certificate configured"};
  return state;
}

int IgnoreExpiredCrl(int ok, X509_STORE_CTX* ctx) {
  int err = X509_STORE_CTX_get_error(ctx);
  if (!ok && (err == X509_V_ERR_CRL_HAS_EXPIRED)) return 1;
  return ok;
}

Error MapVerifyError(int err, int depth) {
  std::string where = depth == 0 ? "signer certificate" : "CA certificate at depth " +
                                                              std::to_string(depth);
  std::string text = where + ": " + X509_verify_cert_error_string(err);
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

Result<bool> CheckEndEntityProfile(X509* leaf) {
  if (X509_get_version(leaf) != X509_VERSION_3) {
    return Error{Reason::kCertificateMalformed, "signer certificate is not X.509 v3"};
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf);
  bool zero = true;
  for (int i = 0; serial != nullptr && i < serial->length; ++i) zero = zero && serial->data[i] == 0;
  if (serial == nullptr || serial->type == V_ASN1_NEG_INTEGER || zero || serial->length > 20) {
    return Error{Reason::kCertificateMalformed,
                 "signer certificate serial is not a positive integer of at most 20 octets"};
  }
  uint32_t flags = X509_get_extension_flags(leaf);  // also caches extensions
  if (flags & EXFLAG_INVALID) {
    ERR_clear_error();
    return Error{Reason::kCertificateMalformed, "signer certificate has invalid extensions"};
  }
  if ((flags & EXFLAG_CA) || (flags & EXFLAG_BCONS && X509_check_ca(leaf) > 0)) {
    return Error{Reason::kCertificateNotEndEntity,
                 "signer certificate is a CA certificate (basicConstraints CA:TRUE)"};
  }
  if (!(flags & EXFLAG_KUSAGE)) {
    return Error{Reason::kWrongKeyUsage, "signer certificate has no keyUsage extension"};
  }
  uint32_t ku = X509_get_key_usage(leaf);
  if (ku & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) {
    return Error{Reason::kCertificateNotEndEntity,
                 "signer certificate keyUsage allows certificate or CRL signing"};
  }
  if (!(ku & KU_DIGITAL_SIGNATURE)) {
    return Error{Reason::kWrongKeyUsage, "signer certificate keyUsage lacks digitalSignature"};
  }
  EVP_PKEY* key = X509_get0_pubkey(leaf);
  auto type = ClassifyKey(key);
  if (!type) return type.error();
  if (*type == KeyType::kRsa && EVP_PKEY_get_bits(key) < 2048) {
    return Error{Reason::kWeakKey, "signer RSA key has " + std::to_string(EVP_PKEY_get_bits(key)) +
                                       " bits (minimum 2048, CoCo 6.2)"};
  }
  ERR_clear_error();
  return true;
}

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
  if (options.environment == Environment::kUnknown) {
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
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), st->store.get(), leaf, extra) != 1) {
    return Error{Reason::kInternalError, "X509_STORE_CTX_init: " + TakeOpensslError()};
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  unsigned long flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_USE_CHECK_TIME;
  if (options_.revocation == Revocation::kRequireCrl) {
    flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  }
  X509_VERIFY_PARAM_set_flags(param, flags);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now / 1000));
  if (options_.allow_expired_crl) X509_STORE_CTX_set_verify_cb(ctx.get(), IgnoreExpiredCrl);

  if (X509_verify_cert(ctx.get()) != 1) {
    Error e = MapVerifyError(X509_STORE_CTX_get_error(ctx.get()),
                             X509_STORE_CTX_get_error_depth(ctx.get()));
    ERR_clear_error();
    return e;
  }

  ValidatedCertificate out;
  out.info = DescribeCertificate(leaf);
  out.generation = st->generation;
  out.valid_until = out.info.not_after;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    out.valid_until =
        std::min(out.valid_until, Asn1TimeToMillis(X509_get0_notAfter(sk_X509_value(chain, i))));
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
