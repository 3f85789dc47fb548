#include "common/pki.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "common/certificate.h"
#include "common/key_policy.h"
#include "common/ossl.h"

namespace dipgate {
namespace {

constexpr int64_t kDayMs = 86400000;

struct Issued {
  X509Ptr cert;
  PkeyPtr key;
};

Result<PkeyPtr> NewKey(const std::string& type, int bits) {
  EVP_PKEY* key = type == "ec" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                               : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  if (key == nullptr) return Error{Reason::kInternalError, "key generation: " + TakeOpensslError()};
  return PkeyPtr(key);
}

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

X509NamePtr MakeName(const std::vector<std::pair<const char*, std::string>>& entries) {
  X509NamePtr name(X509_NAME_new());
  for (const auto& [field, value] : entries) {
    if (value.empty()) continue;
    X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0);
  }
  return name;
}

struct CertSpec {
  std::string common_name;
  std::string organization;
  bool ca = false;
  int pathlen = -1;
  std::string key_usage;           // e.g. "critical,digitalSignature"
  std::string extended_key_usage;  // optional
  std::string san;                 // optional
  UnixMillis not_before = 0;
  UnixMillis not_after = 0;
  long serial = 0;
};

// `crl_base` is where the issuer's CRL is published: leaves point at
// crl_base/issuing-ca.crl, the issuing CA at crl_base/root-ca.crl.
Result<X509Ptr> MakeCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                         EVP_PKEY* issuer_key, const std::string& crl_base) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial);
  X509NamePtr name = MakeName({{"C", "GB"}, {"O", spec.organization}, {"CN", spec.common_name}});
  X509_set_subject_name(cert.get(), name.get());
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name.get());
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before / 1000));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after / 1000));
  X509_set_pubkey(cert.get(), subject_key);
  X509* iss = issuer ? issuer : cert.get();
  std::string bc = spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (spec.ca && spec.pathlen >= 0) bc += ",pathlen:" + std::to_string(spec.pathlen);
  bool ok = AddExt(cert.get(), iss, NID_basic_constraints, bc.c_str()) &&
            AddExt(cert.get(), iss, NID_subject_key_identifier, "hash") &&
            AddExt(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
  if (ok && !spec.key_usage.empty()) {
    ok = AddExt(cert.get(), iss, NID_key_usage, spec.key_usage.c_str());
  }
  if (ok && !spec.extended_key_usage.empty()) {
    ok = AddExt(cert.get(), iss, NID_ext_key_usage, spec.extended_key_usage.c_str());
  }
  if (ok && !spec.san.empty()) ok = AddExt(cert.get(), iss, NID_subject_alt_name, spec.san.c_str());
  if (ok && issuer != nullptr) {
    std::string cdp = "URI:" + crl_base + (spec.ca ? "/root-ca.crl" : "/issuing-ca.crl");
    ok = AddExt(cert.get(), iss, NID_crl_distribution_points, cdp.c_str());
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return Error{Reason::kInternalError, "building certificate " + spec.common_name + ": " +
                                             TakeOpensslError()};
  }
  return cert;
}

Status WriteFile(const std::string& path, const std::function<int(BIO*)>& write, bool secret) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, secret ? 0600 : 0644);
  if (fd < 0) return Error{Reason::kInternalError, "cannot write " + path};
  if (secret) fchmod(fd, 0600);
  FILE* f = fdopen(fd, "wb");
  BioPtr bio(BIO_new_fp(f, BIO_CLOSE));
  if (!bio || write(bio.get()) <= 0) {
    return Error{Reason::kInternalError, "writing " + path + ": " + TakeOpensslError()};
  }
  return OkStatus();
}

Result<X509CrlPtr> MakeCrl(X509* issuer, EVP_PKEY* issuer_key, const std::vector<X509*>& revoked,
                           UnixMillis last, UnixMillis next, long number) {
  X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);  // v2
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer));
  Asn1TimePtr t_last(ASN1_TIME_set(nullptr, static_cast<time_t>(last / 1000)));
  Asn1TimePtr t_next(ASN1_TIME_set(nullptr, static_cast<time_t>(next / 1000)));
  X509_CRL_set1_lastUpdate(crl.get(), t_last.get());
  X509_CRL_set1_nextUpdate(crl.get(), t_next.get());
  for (X509* cert : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(cert));
    X509_REVOKED_set_revocationDate(r, t_last.get());
    X509_CRL_add0_revoked(crl.get(), r);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, nullptr, nullptr, crl.get(), 0);
  X509_EXTENSION* akid = X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier,
                                             "keyid:always");
  OsslPtr<ASN1_INTEGER, ASN1_INTEGER_free> num(ASN1_INTEGER_new());
  ASN1_INTEGER_set(num.get(), number);
  bool ok = akid != nullptr && X509_CRL_add_ext(crl.get(), akid, -1) == 1 &&
            X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, num.get(), 0, 0) == 1;
  X509_EXTENSION_free(akid);
  X509_CRL_sort(crl.get());
  if (!ok || X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) <= 0) {
    return Error{Reason::kInternalError, "building CRL: " + TakeOpensslError()};
  }
  return crl;
}

}  // namespace

Result<std::vector<std::string>> CreateTestPki(const PkiOptions& o) {
  const UnixMillis now = o.now != 0 ? o.now : WallClockMillis();
  if (o.directory.empty()) return Error{Reason::kInternalError, "no output directory"};
  std::error_code ignored;  // checked below
  std::filesystem::create_directories(o.directory, ignored);
  struct stat st;
  if (stat(o.directory.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error{Reason::kInternalError, "cannot create directory " + o.directory};
  }
  std::vector<std::string> written;
  auto path = [&](const std::string& name) { return o.directory + "/" + name; };
  auto write_cert = [&](const std::string& name, const std::vector<X509*>& certs) -> Status {
    auto r = WriteFile(path(name), [&](BIO* b) {
      for (X509* c : certs) if (PEM_write_bio_X509(b, c) != 1) return 0;
      return 1;
    }, false);
    if (r) written.push_back(path(name));
    return r;
  };
  auto write_key = [&](const std::string& name, EVP_PKEY* key) -> Status {
    auto r = WriteFile(path(name), [&](BIO* b) {
      return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    }, true);
    if (r) written.push_back(path(name));
    return r;
  };
#define DIP_TRY(expr)               \
  do {                              \
    auto _r = (expr);               \
    if (!_r) return _r.error();     \
  } while (0)

  const std::string nonprod = "energydip-nonprod." + o.domain;
  const std::string org = o.organization;
  long serial = 0x1000 + static_cast<long>(now / 1000 % 100000) * 16;

  // The CA hierarchy: root (RSA-4096, self-signed) -> issuing CA (RSA-4096).
  auto root_key = NewKey("rsa", 4096);
  if (!root_key) return root_key.error();
  CertSpec root_spec{"DIP Test Root CA", "dipgate test PKI", true, 1,
                     "critical,keyCertSign,cRLSign", "", "", now - kDayMs, now + 3650 * kDayMs,
                     ++serial};
  auto root = MakeCert(root_spec, root_key->get(), nullptr, root_key->get(), o.crl_url_base);
  if (!root) return root.error();
  auto issuing_key = NewKey("rsa", 4096);
  if (!issuing_key) return issuing_key.error();
  CertSpec issuing_spec{"DIP Test Issuing CA", "dipgate test PKI", true, 0,
                        "critical,keyCertSign,cRLSign", "", "", now - kDayMs,
                        now + 1825 * kDayMs, ++serial};
  auto issuing =
      MakeCert(issuing_spec, issuing_key->get(), root->get(), root_key->get(), o.crl_url_base);
  if (!issuing) return issuing.error();
  DIP_TRY(write_cert("root-ca.pem", {root->get()}));
  DIP_TRY(write_key("root-ca.key", root_key->get()));
  DIP_TRY(write_cert("issuing-ca.pem", {issuing->get()}));
  DIP_TRY(write_key("issuing-ca.key", issuing_key->get()));
  DIP_TRY(write_cert("ca-bundle.pem", {issuing->get(), root->get()}));

  // Leaf certificates issued by the issuing CA. Validity 398 days (CoCo).
  struct Leaf {
    const char* name;
    const char* key_type;
    std::string cn;
    const char* key_usage;
    const char* eku;
    UnixMillis not_before;
    UnixMillis not_after;
    const char* san;
  };
  const char* sign_ku = "critical,digitalSignature";
  const std::vector<Leaf> leaves = {
      {"signer-rsa", "rsa", nonprod, sign_ku, "", now - kDayMs, now + 397 * kDayMs, ""},
      {"signer-ec", "ec", nonprod, sign_ku, "", now - kDayMs, now + 397 * kDayMs, ""},
      {"signer-prod", "rsa", "energydip-prod." + o.domain, sign_ku, "", now - kDayMs,
       now + 397 * kDayMs, ""},
      {"signer-revoked", "rsa", nonprod, sign_ku, "", now - kDayMs, now + 397 * kDayMs, ""},
      {"signer-expired", "rsa", nonprod, sign_ku, "", now - 400 * kDayMs, now - 2 * kDayMs, ""},
      {"signer-not-yet-valid", "rsa", nonprod, sign_ku, "", now + 2 * kDayMs, now + 400 * kDayMs,
       ""},
      {"signer-wrong-key-usage", "rsa", nonprod, "critical,keyEncipherment", "", now - kDayMs,
       now + 397 * kDayMs, ""},
      {"tls-server", "rsa", nonprod, "critical,digitalSignature,keyEncipherment", "serverAuth",
       now - kDayMs, now + 397 * kDayMs, "DNS:localhost,IP:127.0.0.1"},
      {"tls-client", "rsa", nonprod, "critical,digitalSignature,keyEncipherment", "clientAuth",
       now - kDayMs, now + 397 * kDayMs, ""},
  };
  std::vector<Issued> issued;
  for (const Leaf& leaf : leaves) {
    auto key = NewKey(leaf.key_type, 2048);
    if (!key) return key.error();
    CertSpec spec{leaf.cn, org, false, -1, leaf.key_usage, leaf.eku, leaf.san,
                  leaf.not_before, leaf.not_after, ++serial};
    auto cert = MakeCert(spec, key->get(), issuing->get(), issuing_key->get(), o.crl_url_base);
    if (!cert) return cert.error();
    DIP_TRY(write_cert(std::string(leaf.name) + ".pem", {cert->get()}));
    DIP_TRY(write_key(std::string(leaf.name) + ".key", key->get()));
    issued.push_back({std::move(*cert), std::move(*key)});
  }

  // An identity from a CA nobody trusts, with the right name and usage.
  auto rogue_key = NewKey("rsa", 2048);
  if (!rogue_key) return rogue_key.error();
  CertSpec rogue_ca_spec{"Rogue Root CA", "Rogue", true, 1, "critical,keyCertSign,cRLSign", "",
                         "", now - kDayMs, now + 3650 * kDayMs, ++serial};
  auto rogue_ca =
      MakeCert(rogue_ca_spec, rogue_key->get(), nullptr, rogue_key->get(), o.crl_url_base);
  if (!rogue_ca) return rogue_ca.error();
  auto untrusted_key = NewKey("rsa", 2048);
  if (!untrusted_key) return untrusted_key.error();
  CertSpec untrusted_spec{nonprod, org, false, -1, sign_ku, "", "", now - kDayMs,
                          now + 397 * kDayMs, ++serial};
  auto untrusted = MakeCert(untrusted_spec, untrusted_key->get(), rogue_ca->get(),
                            rogue_key->get(), o.crl_url_base);
  if (!untrusted) return untrusted.error();
  DIP_TRY(write_cert("rogue-ca.pem", {rogue_ca->get()}));
  DIP_TRY(write_cert("signer-untrusted.pem", {untrusted->get()}));
  DIP_TRY(write_key("signer-untrusted.key", untrusted_key->get()));

  // CRLs: the issuing CA revokes signer-revoked; the root revokes nothing.
  // nextUpdate 7 days ahead (the DIP CA publishes at least weekly).
  X509* revoked = issued[3].cert.get();
  auto issuing_crl = MakeCrl(issuing->get(), issuing_key->get(), {revoked}, now - 60000,
                             now + 7 * kDayMs, 1);
  if (!issuing_crl) return issuing_crl.error();
  auto root_crl = MakeCrl(root->get(), root_key->get(), {}, now - 60000, now + 7 * kDayMs, 1);
  if (!root_crl) return root_crl.error();
  auto expired_crl = MakeCrl(issuing->get(), issuing_key->get(), {revoked}, now - 9 * kDayMs,
                             now - 2 * kDayMs, 0);
  if (!expired_crl) return expired_crl.error();
  auto write_crls = [&](const std::string& name, const std::vector<X509_CRL*>& crls) {
    auto r = WriteFile(path(name), [&](BIO* b) {
      for (X509_CRL* c : crls) if (PEM_write_bio_X509_CRL(b, c) != 1) return 0;
      return 1;
    }, false);
    if (r) written.push_back(path(name));
    return r;
  };
  DIP_TRY(write_crls("issuing-ca.crl", {issuing_crl->get()}));
  DIP_TRY(write_crls("root-ca.crl", {root_crl->get()}));
  DIP_TRY(write_crls("crls.pem", {issuing_crl->get(), root_crl->get()}));
  DIP_TRY(write_crls("issuing-ca-expired.crl", {expired_crl->get()}));

  // Key forms operators receive: encrypted PKCS#8 and PKCS#12 (CoCo 6.2).
  DIP_TRY(WriteFile(path("passphrase.txt"), [&](BIO* b) {
    return BIO_printf(b, "%s\n", o.passphrase.c_str());
  }, true));
  written.push_back(path("passphrase.txt"));
  DIP_TRY(WriteFile(path("signer-ec.encrypted.key"), [&](BIO* b) {
    return PEM_write_bio_PKCS8PrivateKey(b, issued[1].key.get(), EVP_aes_256_cbc(), nullptr, 0,
                                         nullptr, const_cast<char*>(o.passphrase.c_str()));
  }, true));
  written.push_back(path("signer-ec.encrypted.key"));
  X509StackPtr chain(sk_X509_new_null());
  X509_up_ref(issuing->get());
  sk_X509_push(chain.get(), issuing->get());
  Pkcs12Ptr p12(PKCS12_create(o.passphrase.c_str(), "dipgate signer", issued[0].key.get(),
                              issued[0].cert.get(), chain.get(), 0, 0, 0, 0, 0));
  if (!p12) return Error{Reason::kInternalError, "PKCS12_create: " + TakeOpensslError()};
  DIP_TRY(WriteFile(path("signer-rsa.p12"), [&](BIO* b) {
    return i2d_PKCS12_bio(b, p12.get());
  }, true));
  written.push_back(path("signer-rsa.p12"));
#undef DIP_TRY
  return written;
}

Status CreateCsr(const CsrOptions& o) {
  if (EnvironmentOfCommonName(o.common_name) == Environment::kUnrecognised) {
    return Error{Reason::kInternalError,
                 "common name '" + o.common_name +
                     "' must start with energydip-prod. or energydip-nonprod. (CoCo Table 4)"};
  }
  if (o.organization.empty() || o.city.empty() || o.state.empty()) {
    return Error{Reason::kInternalError,
                 "organisation, city and state are required (CoCo Table 4)"};
  }
  if (o.country.size() != 2 || !isalpha(static_cast<unsigned char>(o.country[0])) ||
      !isalpha(static_cast<unsigned char>(o.country[1]))) {
    return Error{Reason::kInternalError, "country must be a two-letter code, e.g. GB"};
  }
  if (o.key_type != "rsa" && o.key_type != "ec") {
    return Error{Reason::kInternalError, "key type must be rsa or ec"};
  }
  if (o.key_type == "rsa" && o.rsa_bits < DipKeyPolicy().min_rsa_bits) {
    return Error{Reason::kInternalError, "RSA keys must have at least " +
                                             std::to_string(DipKeyPolicy().min_rsa_bits) +
                                             " bits (CoCo 6.2)"};
  }
  auto key = NewKey(o.key_type, o.rsa_bits);
  if (!key) return key.error();
  X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509NamePtr name = MakeName({{"C", o.country},
                               {"ST", o.state},
                               {"L", o.city},
                               {"O", o.organization},
                               {"CN", o.common_name}});
  X509_REQ_set_subject_name(req.get(), name.get());
  X509_REQ_set_pubkey(req.get(), key->get());
  if (X509_REQ_sign(req.get(), key->get(), EVP_sha256()) <= 0) {
    return Error{Reason::kInternalError, "signing CSR: " + TakeOpensslError()};
  }
  auto k = WriteFile(o.key_file, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key->get(), nullptr, nullptr, 0, nullptr, nullptr);
  }, true);
  if (!k) return k.error();
  return WriteFile(o.csr_file, [&](BIO* b) { return PEM_write_bio_X509_REQ(b, req.get()); },
                   false);
}

}  // namespace dipgate
