#include "common/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>

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

// RFC 1034 preferred name syntax, as RFC 5280 4.2.1.6 requires of a
// dNSName: letters, digits and hyphens in labels of 1-63 octets, not
// starting or ending with a hyphen; not an IPv4 address written as a name.
// With `wildcard`, a leading "*." label is allowed.
bool ValidDnsName(std::string_view name, bool wildcard) {
  if (wildcard && name.substr(0, 2) == "*.") name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  bool all_numeric = true;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      bool digit = c >= '0' && c <= '9';
      bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!digit && !letter && c != '-') return false;
      all_numeric = all_numeric && digit;
    }
    start = end + 1;
  }
  return !all_numeric;
}

// local-part@domain (RFC 5280 4.2.1.6, RFC 5321 mailbox), one '@'.
bool ValidMailbox(std::string_view mailbox) {
  size_t at = mailbox.find('@');
  return at != std::string_view::npos && at > 0 &&
         mailbox.find('@', at + 1) == std::string_view::npos &&
         ValidDnsName(mailbox.substr(at + 1), false);
}

std::string_view Ia5(const ASN1_IA5STRING* s) {
  return std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                          static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string Where(int depth) {
  return depth == 0 ? "signer certificate" : "CA certificate at depth " + std::to_string(depth);
}

bool SelfIssued(X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
}

// Issued by itself with its own key (a root, or a self-signed anchor).
bool SelfSigned(X509* cert) {
  bool yes = SelfIssued(cert) && X509_verify(cert, X509_get0_pubkey(cert)) == 1;
  ERR_clear_error();
  return yes;
}

bool ExtensionIsCritical(X509* cert, int nid, bool* present) {
  int i = X509_get_ext_by_NID(cert, nid, -1);
  *present = i >= 0;
  return *present && X509_EXTENSION_get_critical(X509_get_ext(cert, i)) == 1;
}

// Checks of the built chain OpenSSL leaves out (RFC 5280 MUSTs and the key
// strength the DIP PKI promises, CoCo 6.2), for every certificate in it.
// On failure `*failed_depth` is the depth of the certificate at fault.
Result<bool> CheckChainProfile(STACK_OF(X509) * chain, int* failed_depth) {
  for (int depth = 0; depth < sk_X509_num(chain); ++depth) {
    X509* cert = sk_X509_value(chain, depth);
    *failed_depth = depth;
    std::string where = Where(depth);
    // Every extension OpenSSL knows must decode.
    for (int i = 0; i < X509_get_ext_count(cert); ++i) {
      X509_EXTENSION* ext = X509_get_ext(cert, i);
      const X509V3_EXT_METHOD* method = X509V3_EXT_get(ext);
      if (method == nullptr) continue;
      void* decoded = X509V3_EXT_d2i(ext);
      if (decoded == nullptr) {
        ERR_clear_error();
        char name[80];
        OBJ_obj2txt(name, sizeof(name), X509_EXTENSION_get_object(ext), 0);
        return Error{Reason::kCertificateMalformed, where + ": extension " + name +
                                                        " does not decode"};
      }
      if (method->it != nullptr) {
        ASN1_item_free(static_cast<ASN1_VALUE*>(decoded), ASN1_ITEM_ptr(method->it));
      } else if (method->ext_free != nullptr) {
        method->ext_free(decoded);
      }
    }
    // The authority key identifier (4.2.1.1): required unless self-signed
    // (or the configured trust anchor itself);
    // when present, with the key identifier; a self-signed certificate's
    // names itself only (its own key identifier, no issuer and serial).
    auto* akid = static_cast<AUTHORITY_KEYID*>(
        X509_get_ext_d2i(cert, NID_authority_key_identifier, nullptr, nullptr));
    bool self_signed = SelfSigned(cert);
    std::string aki_fault;
    bool anchor = depth + 1 == sk_X509_num(chain);  // trusted by configuration
    if (akid == nullptr) {
      if (!self_signed && !anchor) aki_fault = "no authorityKeyIdentifier";
    } else if (akid->keyid == nullptr) {
      aki_fault = "authorityKeyIdentifier without keyIdentifier";
    } else if (self_signed) {
      const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(cert);
      if (akid->issuer != nullptr || akid->serial != nullptr) {
        aki_fault = "self-signed certificate's authorityKeyIdentifier names an issuer";
      } else if (skid != nullptr && ASN1_OCTET_STRING_cmp(skid, akid->keyid) != 0) {
        aki_fault = "self-signed certificate's authorityKeyIdentifier differs from its own";
      }
    }
    AUTHORITY_KEYID_free(akid);
    ERR_clear_error();
    if (!aki_fault.empty()) return Error{Reason::kCertificateMalformed, where + ": " + aki_fault};
    bool present = false;
    // Name constraints: CAs only, critical, not empty (4.2.1.10).
    bool critical = ExtensionIsCritical(cert, NID_name_constraints, &present);
    if (present) {
      auto* nc = static_cast<NAME_CONSTRAINTS*>(
          X509_get_ext_d2i(cert, NID_name_constraints, nullptr, nullptr));
      bool empty = nc == nullptr || (sk_GENERAL_SUBTREE_num(nc->permittedSubtrees) <= 0 &&
                                     sk_GENERAL_SUBTREE_num(nc->excludedSubtrees) <= 0);
      bool syntax_ok = true;
      for (auto* subtrees : {nc ? nc->permittedSubtrees : nullptr,
                             nc ? nc->excludedSubtrees : nullptr}) {
        for (int i = 0; i < sk_GENERAL_SUBTREE_num(subtrees); ++i) {
          GENERAL_NAME* base = sk_GENERAL_SUBTREE_value(subtrees, i)->base;
          if (base->type == GEN_DNS && !ValidDnsName(Ia5(base->d.dNSName), false)) {
            syntax_ok = false;
          }
        }
      }
      NAME_CONSTRAINTS_free(nc);
      if (!syntax_ok) {
        return Error{Reason::kCertificateMalformed,
                     where + ": nameConstraints dNSName is not a valid host name"};
      }
      if (depth == 0 || !critical || empty) {
        return Error{Reason::kCertificateMalformed,
                     where + ": nameConstraints " +
                         (depth == 0 ? "in an end-entity certificate"
                                     : !critical ? "not critical" : "with no subtree")};
      }
    }
    // Policy constraints are critical (4.2.1.11).
    critical = ExtensionIsCritical(cert, NID_policy_constraints, &present);
    if (present && !critical) {
      return Error{Reason::kCertificateMalformed, where + ": policyConstraints not critical"};
    }
    // Keys: RSA of at least 2048 bits in whole octets, or a NIST prime
    // curve by name; no DSA, no explicit curves, no P-192.
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (key == nullptr) {
      ERR_clear_error();
      return Error{Reason::kCertificateMalformed, where + ": public key does not decode"};
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
      int bits = EVP_PKEY_get_bits(key);
      if (bits < 2048 || bits % 8 != 0) {
        return Error{Reason::kWeakKey, where + ": RSA key of " + std::to_string(bits) +
                                           " bits (2048 or more, whole octets)"};
      }
    } else if (EVP_PKEY_is_a(key, "EC")) {
      std::string curve = EcCurveName(key);
      if (curve != "prime256v1" && curve != "secp384r1" && curve != "secp521r1") {
        return Error{Reason::kWeakKey, where + ": EC key on curve '" + curve + "'"};
      }
    } else {
      return Error{Reason::kWeakKey,
                   where + ": unsupported key type " + EVP_PKEY_get0_type_name(key)};
    }
  }
  return true;
}

// Intermediate CAs in `chain` (leaf first, anchor last) that count towards
// a depth limit: self-issued ones do not (RFC 5280 4.2.1.9).
int CountedIntermediates(STACK_OF(X509) * chain) {
  int n = 0;
  for (int i = 1; i + 1 < sk_X509_num(chain); ++i) n += !SelfIssued(sk_X509_value(chain, i));
  return n;
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
  if (flags & EXFLAG_XKUSAGE) {
    auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(leaf, NID_ext_key_usage, nullptr, nullptr));
    bool empty = eku == nullptr || sk_ASN1_OBJECT_num(eku) == 0;
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    if (empty) {
      ERR_clear_error();
      return Error{Reason::kCertificateMalformed,
                   "signer certificate has an empty extendedKeyUsage (RFC 5280 4.2.1.12)"};
    }
  }
  auto* san = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  std::string bad_name;
  for (int i = 0; san != nullptr && i < sk_GENERAL_NAME_num(san) && bad_name.empty(); ++i) {
    GENERAL_NAME* name = sk_GENERAL_NAME_value(san, i);
    if (name->type == GEN_DNS && !ValidDnsName(Ia5(name->d.dNSName), true)) {
      bad_name = "dNSName '" + std::string(Ia5(name->d.dNSName)) + "'";
    } else if (name->type == GEN_EMAIL && !ValidMailbox(Ia5(name->d.rfc822Name))) {
      bad_name = "rfc822Name '" + std::string(Ia5(name->d.rfc822Name)) + "'";
    }
  }
  GENERAL_NAMES_free(san);
  ERR_clear_error();
  if (!bad_name.empty()) {
    return Error{Reason::kCertificateMalformed,
                 "signer certificate subjectAltName " + bad_name + " is not valid"};
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
  unsigned long base_flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_USE_CHECK_TIME;
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

  ValidatedCertificate out;
  out.info = DescribeCertificate(leaf);
  out.generation = st->generation;
  out.valid_until = out.info.not_after;
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
