#include "common/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstring>

#include "common/base64.h"
#include "common/digest.h"
#include "common/files.h"

namespace dipgate {
namespace {

std::string NameEntry(X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), len);
  OPENSSL_free(utf8);
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

Result<DecodedCertificate> FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  DecodedCertificate out;
  out.extra.reset(sk_X509_new_null());
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (!out.leaf) {
      out.leaf = std::move(cert);
    } else {
      sk_X509_push(out.extra.get(), cert.release());
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (!out.leaf) {
    return Error{Reason::kBadCertificate, "PEM text holds no readable certificate"};
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(out.leaf.get(), &der);
  if (len <= 0) return Error{Reason::kBadCertificate, "certificate does not re-encode"};
  out.der.assign(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::string NameToString(X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

std::string_view ToString(Environment env) {
  switch (env) {
    case Environment::kAny: return "any";
    case Environment::kProd: return "prod";
    case Environment::kNonProd: return "nonprod";
    case Environment::kUnrecognised: return "unknown";
  }
  return "unknown";
}

Result<Environment> EnvironmentFromName(std::string_view name) {
  if (name == "prod") return Environment::kProd;
  if (name == "nonprod") return Environment::kNonProd;
  if (name == "any") return Environment::kAny;
  return Error{Reason::kInternalError,
               "environment must be prod, nonprod or any, not '" + std::string(name) + "'"};
}

Environment EnvironmentOfCommonName(std::string_view cn) {
  if (StartsWithNoCase(cn, "energydip-prod.")) return Environment::kProd;
  if (StartsWithNoCase(cn, "energydip-nonprod.")) return Environment::kNonProd;
  return Environment::kUnrecognised;
}

Result<DecodedCertificate> DecodeCertificateHeader(std::string_view value) {
  auto bytes = Base64Decode(value);
  if (!bytes) {
    return Error{Reason::kBadBase64, "X-DIP-Signature-Certificate is not valid base64"};
  }
  if (bytes->find("-----BEGIN") != std::string::npos) return FromPem(*bytes);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes->data());
  const unsigned char* start = p;
  DecodedCertificate out;
  out.leaf.reset(d2i_X509(nullptr, &p, static_cast<long>(bytes->size())));
  if (!out.leaf) {
    ERR_clear_error();
    return Error{Reason::kBadCertificate,
                 "X-DIP-Signature-Certificate is neither a DER nor a PEM certificate"};
  }
  if (static_cast<size_t>(p - start) != bytes->size()) {
    return Error{Reason::kBadCertificate, "X-DIP-Signature-Certificate has bytes after the DER"};
  }
  out.extra.reset(sk_X509_new_null());
  out.der = std::move(*bytes);
  return out;
}

std::string EncodeCertificateHeader(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  std::string out = Base64Encode(std::string_view(reinterpret_cast<char*>(der), len));
  OPENSSL_free(der);
  return out;
}

int64_t DaysToExpiry(UnixMillis not_after, UnixMillis now) {
  return (not_after - now) / 86400000;
}

Result<UnixMillis> Asn1TimeToMillis(const ASN1_TIME* t) {
  if (t == nullptr) return Error{Reason::kCertificateMalformed, "time is absent"};
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return Error{Reason::kCertificateMalformed, "time does not decode"};
  }
  char buf[64];
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  auto millis = ParseSignatureDate(buf);
  if (!millis) {
    return Error{Reason::kCertificateMalformed, std::string("time ") + buf + " is out of range"};
  }
  return *millis;
}

namespace {

// Everything but the two times, which can fail to decode.
CertificateInfo FactsOtherThanTimes(X509* cert) {
  CertificateInfo info;
  X509_NAME* subject = X509_get_subject_name(cert);
  info.subject = NameToString(subject);
  info.common_name = NameEntry(subject, NID_commonName);
  info.organization = NameEntry(subject, NID_organizationName);
  info.issuer = NameToString(X509_get_issuer_name(cert));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) info.fingerprint = Hex(md, md_len);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  if (serial != nullptr) info.serial = Hex(serial->data, serial->length);
  info.environment = EnvironmentOfCommonName(info.common_name);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key != nullptr) {
    if (EVP_PKEY_is_a(key, "RSA")) {
      info.key_description = "RSA-" + std::to_string(EVP_PKEY_get_bits(key));
    } else if (EVP_PKEY_is_a(key, "EC")) {
      char group[64] = {0};
      size_t len = 0;
      EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &len);
      info.key_description = std::string("ECDSA ") + group;
    } else {
      info.key_description = EVP_PKEY_get0_type_name(key);
    }
  }
  ERR_clear_error();
  return info;
}

}  // namespace

Result<CertificateInfo> ReadCertificateInfo(X509* cert) {
  auto not_before = Asn1TimeToMillis(X509_get0_notBefore(cert));
  if (!not_before) {
    return Error{Reason::kCertificateMalformed, "notBefore: " + not_before.error().detail};
  }
  auto not_after = Asn1TimeToMillis(X509_get0_notAfter(cert));
  if (!not_after) {
    return Error{Reason::kCertificateMalformed, "notAfter: " + not_after.error().detail};
  }
  CertificateInfo info = FactsOtherThanTimes(cert);
  info.not_before = *not_before;
  info.not_after = *not_after;
  return info;
}


Result<std::vector<X509Ptr>> LoadCertificates(const std::string& path) {
  auto read = ReadWholeFile(path);
  if (!read) return Error{read.reason(), "certificate file: " + read.error().detail};
  const std::string& data = *read;
  std::vector<X509Ptr> out;
  if (data.find("-----BEGIN") != std::string::npos) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
    ERR_clear_error();
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    if (X509* c = d2i_X509(nullptr, &p, static_cast<long>(data.size()))) out.emplace_back(c);
    ERR_clear_error();
  }
  if (out.empty()) return Error{Reason::kInternalError, "no certificate in " + path};
  return out;
}

}  // namespace dipgate
