#include "common/ocsp.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "common/certificate.h"
#include "common/ossl.h"

namespace dipgate {
namespace {

using OcspRequestPtr = OsslPtr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = OsslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicPtr = OsslPtr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = OsslPtr<OCSP_CERTID, OCSP_CERTID_free>;

// OpenSSL's first queued error as text (the queue is cleared).
std::string OpensslError() {
  unsigned long e = ERR_peek_last_error();
  std::string out = e == 0 ? "no detail" : ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "error";
  ERR_clear_error();
  return out;
}

OcspStatus Invalid(std::string detail) {
  OcspStatus s;
  s.reason = Reason::kOcspResponseInvalid;
  s.detail = std::move(detail);
  return s;
}

std::string Der(OCSP_CERTID* id) {
  int n = i2d_OCSP_CERTID(id, nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_OCSP_CERTID(id, &p);
  return out;
}

}  // namespace

std::string OcspResponderOf(X509* cert) {
  STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(cert);
  std::string out;
  if (urls != nullptr && sk_OPENSSL_STRING_num(urls) > 0) out = sk_OPENSSL_STRING_value(urls, 0);
  X509_email_free(urls);
  ERR_clear_error();
  return out;
}

Result<OcspRequest> MakeOcspRequest(X509* cert, X509* issuer, bool nonce) {
  OcspCertIdPtr id(OCSP_cert_to_id(nullptr, cert, issuer));
  OcspRequestPtr req(OCSP_REQUEST_new());
  if (!id || !req) {
    return Error{Reason::kInternalError, "OCSP request: " + OpensslError()};
  }
  OcspRequest out;
  out.key = Der(id.get());
  if (out.key.empty() || OCSP_request_add0_id(req.get(), id.get()) == nullptr) {
    return Error{Reason::kInternalError, "OCSP request: " + OpensslError()};
  }
  id.release();  // the request owns it now
  if (nonce) {
    if (OCSP_request_add1_nonce(req.get(), nullptr, -1) != 1) {
      return Error{Reason::kInternalError, "OCSP nonce: " + OpensslError()};
    }
    out.nonce = true;
  }
  int n = i2d_OCSP_REQUEST(req.get(), nullptr);
  if (n <= 0) return Error{Reason::kInternalError, "OCSP request: " + OpensslError()};
  out.der.resize(static_cast<size_t>(n));
  auto* p = reinterpret_cast<unsigned char*>(out.der.data());
  i2d_OCSP_REQUEST(req.get(), &p);
  return out;
}

OcspStatus CheckOcspResponse(std::string_view der, const OcspRequest& request, X509* cert,
                             X509* issuer, X509_STORE* trust, UnixMillis now,
                             const OcspOptions& options) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    return Invalid("not a DER OCSPResponse (" + std::to_string(der.size()) + " bytes)");
  }
  int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    OcspStatus s;
    // tryLater and internalError are the responder's own trouble: no answer.
    bool transient = status == OCSP_RESPONSE_STATUS_TRYLATER ||
                     status == OCSP_RESPONSE_STATUS_INTERNALERROR;
    s.reason = transient ? Reason::kOcspUnavailable : Reason::kOcspResponseInvalid;
    s.detail = std::string("the responder answered ") + OCSP_response_status_str(status);
    return s;
  }
  OcspBasicPtr basic(OCSP_response_get1_basic(response.get()));
  if (!basic) return Invalid("no basic OCSP response: " + OpensslError());

  // Signed by the issuer, or by a responder the issuer authorised, on a
  // chain to the trust anchors (the issuer offered as an intermediate).
  X509StackPtr offered(sk_X509_new_null());
  if (!offered || sk_X509_push(offered.get(), issuer) <= 0) {
    return Invalid("out of memory");
  }
  X509_up_ref(issuer);
  if (OCSP_basic_verify(basic.get(), offered.get(), trust, 0) <= 0) {
    return Invalid("the response's signature does not verify, or its signer is not the issuer "
                   "nor a responder the issuer authorised: " + OpensslError());
  }

  if (request.nonce) {
    const auto* q = reinterpret_cast<const unsigned char*>(request.der.data());
    OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &q, static_cast<long>(request.der.size())));
    int nonce = req ? OCSP_check_nonce(req.get(), basic.get()) : 0;
    ERR_clear_error();
    if (nonce == 0) return Invalid("the response's nonce is not the request's");
    if (nonce == -1 && options.require_nonce) {
      return Invalid("the response carries no nonce, and one is required");
    }
  }

  OcspCertIdPtr id(OCSP_cert_to_id(nullptr, cert, issuer));
  int cert_status = -1, crl_reason = -1;
  ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (!id || OCSP_resp_find_status(basic.get(), id.get(), &cert_status, &crl_reason, &revoked,
                                   &this_update, &next_update) != 1) {
    ERR_clear_error();
    return Invalid("the response does not answer for this certificate");
  }

  OcspStatus out;
  auto this_ms = this_update ? Asn1TimeToMillis(this_update) : Result<UnixMillis>(Error{});
  if (!this_ms) return Invalid("thisUpdate missing or unreadable");
  out.this_update = *this_ms;
  if (next_update != nullptr) {
    auto next_ms = Asn1TimeToMillis(next_update);
    if (!next_ms) return Invalid("nextUpdate unreadable");
    out.next_update = *next_ms;
  }
  if (out.this_update > now + options.skew_ms) {
    return Invalid("thisUpdate " + FormatSignatureDate(out.this_update) + " is ahead of now " +
                   FormatSignatureDate(now));
  }
  if (out.next_update != 0 && out.next_update < now - options.skew_ms) {
    return Invalid("stale: nextUpdate " + FormatSignatureDate(out.next_update) + " has passed");
  }
  if (out.next_update == 0 && out.this_update < now - options.max_age_ms) {
    return Invalid("stale: no nextUpdate, and thisUpdate " + FormatSignatureDate(out.this_update) +
                   " is older than the maximum age");
  }

  switch (cert_status) {
    case V_OCSP_CERTSTATUS_GOOD:
      out.reason = Reason::kOk;
      out.detail = "good";
      break;
    case V_OCSP_CERTSTATUS_REVOKED: {
      out.reason = Reason::kCertificateRevoked;
      auto at = revoked ? Asn1TimeToMillis(revoked) : Result<UnixMillis>(Error{});
      out.revoked_at = at ? *at : 0;
      out.revocation_reason = crl_reason >= 0 ? OCSP_crl_reason_str(crl_reason) : "";
      out.detail = "revoked (OCSP) at " +
                   (out.revoked_at ? FormatSignatureDate(out.revoked_at) : std::string("?")) +
                   (out.revocation_reason.empty() ? "" : ", reason " + out.revocation_reason);
      break;
    }
    default:
      out.reason = Reason::kOcspUnknown;
      out.detail = "the responder does not know this certificate";
      break;
  }
  ERR_clear_error();
  return out;
}

void OcspCache::Put(const std::string& key, const OcspStatus& status, UnixMillis now) {
  if (status.reason != Reason::kOk && status.reason != Reason::kCertificateRevoked &&
      status.reason != Reason::kOcspUnknown) {
    return;
  }
  UnixMillis until = now + max_age_ms_;
  if (status.next_update != 0) until = std::min(until, status.next_update);
  if (until <= now) return;
  std::lock_guard<std::mutex> lock(mu_);
  entries_[key] = Entry{status, now, until};
}

std::optional<OcspStatus> OcspCache::Get(const std::string& key, UnixMillis now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.until <= now) return std::nullopt;
  return it->second.status;
}

bool OcspCache::NeedsRefresh(const std::string& key, UnixMillis now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return true;
  const Entry& e = it->second;
  return now >= e.until - (e.until - e.stored) / 10;
}

size_t OcspCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace dipgate
