#include "common/signer.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <sys/stat.h>

#include <cstring>

#include "common/base64.h"
#include "common/digest.h"
#include "common/files.h"

namespace dipgate {
namespace {

void CheckPermissions(const std::string& path, std::vector<std::string>* warnings) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%03o", st.st_mode & 0777);
    warnings->push_back(path + " is accessible by group or others (mode " + mode +
                        "); chmod 600 it");
  }
}

// The passphrase is the file's first line, without its line ending.
Result<std::string> ReadPassphrase(const std::string& path, std::vector<std::string>* warnings) {
  if (path.empty()) return std::string();
  auto line = ReadFirstLine(path);
  if (!line) return Error{line.reason(), "passphrase file: " + line.error().detail};
  CheckPermissions(path, warnings);
  return line;
}

int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* u) {
  const auto* pass = static_cast<const std::string*>(u);
  if (pass == nullptr || pass->empty() || static_cast<int>(pass->size()) > size) return -1;
  memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

Result<PkeyPtr> LoadKey(const std::string& path, const std::string& pass) {
  auto read = ReadWholeFile(path);
  if (!read) return Error{read.reason(), "key file: " + read.error().detail};
  std::string& data = *read;
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback,
                                      const_cast<std::string*>(&pass)));
  if (!key) {
    ERR_clear_error();
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size())));
  }
  OPENSSL_cleanse(data.data(), data.size());
  if (!key) {
    std::string why = TakeOpensslError();
    return Error{Reason::kInternalError,
                 "cannot load private key from " + path +
                     (pass.empty() ? " (encrypted keys need a passphrase file)"
                                   : " (wrong passphrase or not a key)") +
                     ": " + why};
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const SigningIdentity>> LoadIdentity(const KeySource& src) {
  auto id = std::make_shared<SigningIdentity>();
  id->name = src.name;
  auto pass = ReadPassphrase(src.passphrase_file, &id->warnings);
  if (!pass) return pass.error();

  if (!src.pkcs12_file.empty()) {
    auto read = ReadWholeFile(src.pkcs12_file);
    if (!read) return Error{read.reason(), "PKCS#12 file: " + read.error().detail};
    std::string& data = *read;
    CheckPermissions(src.pkcs12_file, &id->warnings);
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    STACK_OF(X509)* ca = nullptr;
    if (!p12 || PKCS12_parse(p12.get(), pass->c_str(), &key, &cert, &ca) != 1) {
      return Error{Reason::kInternalError, "cannot open PKCS#12 file " + src.pkcs12_file +
                                               " (wrong passphrase or damaged): " +
                                               TakeOpensslError()};
    }
    id->key.reset(key);
    id->certificate.reset(cert);
    sk_X509_pop_free(ca, X509_free);
    if (!id->key || !id->certificate) {
      return Error{Reason::kInternalError,
                   "PKCS#12 file " + src.pkcs12_file + " lacks a key or a certificate"};
    }
  } else {
    if (src.certificate_file.empty() || src.key_file.empty()) {
      return Error{Reason::kInternalError,
                   "identity '" + src.name + "' needs a PKCS#12 file or a certificate and key file"};
    }
    auto certs = LoadCertificates(src.certificate_file);
    if (!certs) return certs.error();
    id->certificate = std::move(certs->front());
    CheckPermissions(src.key_file, &id->warnings);
    auto key = LoadKey(src.key_file, *pass);
    if (!key) return key.error();
    id->key = std::move(*key);
  }
  OPENSSL_cleanse(pass->data(), pass->size());

  auto type = ClassifyKey(id->key.get());
  if (!type) return Error{type.reason(), "identity '" + src.name + "': " + type.error().detail};
  if (X509_check_private_key(id->certificate.get(), id->key.get()) != 1) {
    ERR_clear_error();
    return Error{Reason::kInternalError,
                 "identity '" + src.name + "': the private key does not match the certificate"};
  }
  id->certificate_header = EncodeCertificateHeader(id->certificate.get());
  auto info = ReadCertificateInfo(id->certificate.get());
  if (!info) {
    return Error{info.reason(), "identity '" + src.name + "': certificate " + info.error().detail};
  }
  id->info = std::move(*info);
  return std::shared_ptr<const SigningIdentity>(std::move(id));
}

Result<RequestSigner> RequestSigner::Create(std::shared_ptr<const SigningIdentity> identity) {
  auto signer = SignatureSigner::Create(identity->key.get());
  if (!signer) return signer.error();
  RequestSigner s;
  s.identity_ = std::move(identity);
  s.signer_ = std::make_shared<SignatureSigner>(std::move(*signer));
  return s;
}

Result<RequestSigner> RequestSigner::Clone() const {
  auto signer = signer_->Clone();
  if (!signer) return signer.error();
  RequestSigner s;
  s.identity_ = identity_;
  s.signer_ = std::make_shared<SignatureSigner>(std::move(*signer));
  return s;
}

Result<DipHeaders> RequestSigner::Sign(std::string_view method, std::string_view destination,
                                       std::string_view body, UnixMillis now) {
  return SignHashed(method, destination, ContentHash(body), now);
}

Result<DipHeaders> RequestSigner::SignHashed(std::string_view method,
                                             std::string_view destination,
                                             std::string content_hash, UnixMillis now) {
  DipHeaders h;
  h.signature_date = FormatSignatureDate(now);
  auto sig = signer_->Sign(SignatureString(method, destination, h.signature_date, content_hash));
  if (!sig) return sig.error();
  h.signature = Base64Encode(*sig);
  h.certificate = identity_->certificate_header;
  h.content_hash = std::move(content_hash);
  return h;
}

Status IdentitySet::Add(std::shared_ptr<const SigningIdentity> identity) {
  if (identity->name.empty()) return Error{Reason::kInternalError, "identity without a name"};
  if (by_name_.count(identity->name) != 0) {
    return Error{Reason::kInternalError, "identity '" + identity->name + "' defined twice"};
  }
  by_name_.emplace(identity->name, std::move(identity));
  return OkStatus();
}

std::shared_ptr<const SigningIdentity> IdentitySet::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> IdentitySet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, id] : by_name_) out.push_back(name);
  return out;
}

}  // namespace dipgate
