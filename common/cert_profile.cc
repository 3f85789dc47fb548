#include "common/cert_profile.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/key_policy.h"

namespace dipgate {
namespace {

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

// Every extension OpenSSL knows decodes.
Status CheckExtensionsDecode(X509* cert, const std::string& where) {
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
  return OkStatus();
}

// The authority key identifier (4.2.1.1): required unless self-signed (or
// the configured trust anchor itself); when present, with the key
// identifier; a self-signed certificate's names itself only (its own key
// identifier, no issuer and serial).
Status CheckAuthorityKeyId(X509* cert, const std::string& where, bool anchor) {
  auto* akid = static_cast<AUTHORITY_KEYID*>(
      X509_get_ext_d2i(cert, NID_authority_key_identifier, nullptr, nullptr));
  bool self_signed = SelfSigned(cert);
  std::string aki_fault;
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
  return OkStatus();
}

// Name constraints: CAs only, critical, not empty, valid host names (4.2.1.10).
Status CheckNameConstraints(X509* cert, const std::string& where, int depth) {
  bool present = false;
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
  return OkStatus();
}

// Policy constraints are critical (4.2.1.11).
Status CheckPolicyConstraints(X509* cert, const std::string& where) {
  bool present = false;
  bool critical = ExtensionIsCritical(cert, NID_policy_constraints, &present);
  if (present && !critical) {
    return Error{Reason::kCertificateMalformed, where + ": policyConstraints not critical"};
  }
  return OkStatus();
}

}  // namespace

std::string Where(int depth) {
  return depth == 0 ? "signer certificate" : "CA certificate at depth " + std::to_string(depth);
}

Status CheckChainProfile(STACK_OF(X509) * chain, int* failed_depth) {
  for (int depth = 0; depth < sk_X509_num(chain); ++depth) {
    X509* cert = sk_X509_value(chain, depth);
    *failed_depth = depth;
    std::string where = Where(depth);
    bool anchor = depth + 1 == sk_X509_num(chain);  // trusted by configuration
    for (const Status& check :
         {CheckExtensionsDecode(cert, where), CheckAuthorityKeyId(cert, where, anchor),
          CheckNameConstraints(cert, where, depth), CheckPolicyConstraints(cert, where)}) {
      if (!check) return check.error();
    }
    // Keys: the key-policy table (common/key_policy.h).
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (key == nullptr) {
      ERR_clear_error();
      return Error{Reason::kCertificateMalformed, where + ": public key does not decode"};
    }
    auto strength = CheckKeyStrength(key, KeyRole::kChain, where);
    if (!strength) return strength.error();
  }
  return OkStatus();
}

int CountedIntermediates(STACK_OF(X509) * chain) {
  int n = 0;
  for (int i = 1; i + 1 < sk_X509_num(chain); ++i) n += !SelfIssued(sk_X509_value(chain, i));
  return n;
}

Status CheckEndEntityProfile(X509* leaf) {
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
  auto strength = CheckKeyStrength(X509_get0_pubkey(leaf), KeyRole::kSigning, "signer");
  ERR_clear_error();
  return strength;
}

}  // namespace dipgate
