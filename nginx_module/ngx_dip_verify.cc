// dip_verify: checks the X-DIP signature headers of inbound webhooks from
// the DIP before the request goes on (typically proxy_pass to the internal
// application). The body is read in full (memory or temp file, chunked or
// not), hashed as it streams through the request body filter, and passed
// on unchanged.
#include "common/headers.h"
#include "nginx_module/ngx_dip.h"

namespace dipgate::nginx {
namespace {

struct HeaderValues {
  std::string_view signature, date, certificate, content_hash;
  const char* duplicate = nullptr;
};

bool NameIs(const ngx_table_elt_t& h, std::string_view name) {
  return h.key.len == name.size() &&
         ngx_strncasecmp(h.key.data, reinterpret_cast<u_char*>(const_cast<char*>(name.data())),
                         name.size()) == 0;
}

HeaderValues CollectHeaders(ngx_http_request_t* r) {
  HeaderValues out;
  std::string_view legacy;
  struct Slot {
    std::string_view name;
    std::string_view* value;
    int seen;
  } slots[] = {{kSignatureHeader, &out.signature, 0},
               {kSignatureDateHeader, &out.date, 0},
               {kCertificateHeader, &out.certificate, 0},
               {kContentHashHeader, &out.content_hash, 0},
               {kLegacyCertificateHeader, &legacy, 0}};
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) {
      for (Slot& s : slots) {
        if (!NameIs(h[i], s.name)) continue;
        if (++s.seen > 1 && out.duplicate == nullptr) out.duplicate = s.name.data();
        *s.value = std::string_view(reinterpret_cast<char*>(h[i].value.data), h[i].value.len);
      }
    }
  }
  if (out.certificate.empty()) out.certificate = legacy;
  return out;
}

// The URL the request arrived on, unless dip_verify_destination says
// otherwise (behind a TLS-terminating load balancer, for example).
bool Destination(ngx_http_request_t* r, LocConf* lcf, std::string* out) {
  if (lcf->verify_destination != nullptr) {
    ngx_str_t v;
    if (ngx_http_complex_value(r, lcf->verify_destination, &v) != NGX_OK) return false;
    *out = ToStd(v);
    return true;
  }
#if (NGX_HTTP_SSL)
  *out = r->connection->ssl != nullptr ? "https://" : "http://";
#else
  *out = "http://";
#endif
  if (r->headers_in.host != nullptr) {
    *out += ToStd(r->headers_in.host->value);
  } else {
    *out += ToStd(r->headers_in.server);
  }
  *out += ToStd(r->unparsed_uri);
  return true;
}

Verifier* WorkerVerifier(LocConf* lcf) {
  if (lcf->verifier != nullptr) return lcf->verifier;
  VerifyPolicy p;
  p.max_age_ms = p.max_future_ms = static_cast<UnixMillis>(lcf->window);
  p.replay_protection = lcf->replay;
  p.replay_capacity = lcf->replay_size;
  p.certificate_cache_capacity = lcf->cache_size;
  p.allow.subjects = ToStrings(lcf->allow_subjects);
  p.allow.organizations = ToStrings(lcf->allow_organizations);
  p.allow.fingerprints = ToStrings(lcf->allow_fingerprints);
  // One per location and worker, for the worker's life: its caches are
  // bounded by dip_verify_cache_size and dip_verify_replay_size.
  lcf->verifier = new (std::nothrow) Verifier(*lcf->trust, std::move(p));
  return lcf->verifier;
}

void SetVerdict(ngx_http_request_t* r, RequestCtx* ctx, Verdict verdict) {
  if (ctx->verdict == nullptr) ctx->verdict = PoolOwned<Verdict>(r->pool);
  if (ctx->verdict != nullptr) *ctx->verdict = std::move(verdict);
}

Verdict Check(ngx_http_request_t* r, RequestCtx* ctx, LocConf* lcf) {
  Verdict v;
  if (ctx->body_too_large) {
    v.reason = Reason::kBodyTooLarge;
    v.detail = "body of " + std::to_string(ctx->body_bytes) + " bytes exceeds dip_verify_max_body";
    return v;
  }
  HeaderValues h = CollectHeaders(r);
  if (h.duplicate != nullptr) {
    v.reason = Reason::kDuplicateHeader;
    v.header = h.duplicate;
    v.detail = std::string(h.duplicate) + " appears more than once";
    return v;
  }
  std::string destination;
  if (!Destination(r, lcf, &destination)) {
    v.reason = Reason::kInternalError;
    v.detail = "cannot evaluate dip_verify_destination";
    return v;
  }
  Verifier* verifier = WorkerVerifier(lcf);
  if (verifier == nullptr) {
    v.reason = Reason::kInternalError;
    v.detail = "out of memory";
    return v;
  }
  SignedRequest req;
  req.method = std::string_view(reinterpret_cast<char*>(r->method_name.data), r->method_name.len);
  req.destination = destination;
  req.body_hash = ctx->hasher->Finish();
  req.signature = h.signature;
  req.signature_date = h.date;
  req.certificate = h.certificate;
  req.content_hash = h.content_hash;
  v = verifier->Verify(req, WallClockMillis());
  if (!verifier->reload_error().empty()) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "%sreloading CA or CRL files failed, the previous ones stay in use: %s",
                  kVerifyLog, verifier->reload_error().c_str());
  }
  return v;
}

void LogVerdict(ngx_http_request_t* r, const Verdict& v) {
  ngx_uint_t level = v.ok() ? NGX_LOG_INFO : IsInternal(v.reason) ? NGX_LOG_ERR : NGX_LOG_WARN;
  if (r->connection->log->log_level < level) return;  // nothing to format
  std::string_view reason = ToString(v.reason);
  std::string signer = v.signer ? v.signer->subject : "-";
  std::string fingerprint = v.signer ? v.signer->fingerprint : "-";
  if (v.ok()) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "%saccepted: signer=\"%s\" fingerprint=%s client=%V", kVerifyLog,
                  signer.c_str(), fingerprint.c_str(), &r->connection->addr_text);
    return;
  }
  ngx_log_error(level, r->connection->log, 0,
                "%srejected: %*s header=%s signer=\"%s\" fingerprint=%s client=%V: %s",
                kVerifyLog, reason.size(), reason.data(),
                v.header.empty() ? "-" : v.header.c_str(), signer.c_str(), fingerprint.c_str(),
                &r->connection->addr_text, v.detail.c_str());
}

// {"error":"dip_verification_failed","reason":"...","header":"..."}
ngx_int_t SendRejection(ngx_http_request_t* r, LocConf* lcf, const Verdict& v) {
  ngx_uint_t status = IsInternal(v.reason) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                      : v.reason == Reason::kBodyTooLarge ? NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
                                                          : lcf->reject_status;
  std::string body = "{\"error\":\"dip_verification_failed\",\"reason\":\"" +
                     std::string(ToString(v.reason)) + "\"";
  if (!v.header.empty()) body += ",\"header\":\"" + v.header + "\"";
  body += "}\n";
  if (ngx_http_discard_request_body(r) != NGX_OK) r->keepalive = 0;
  r->headers_out.status = status;
  r->headers_out.content_length_n = static_cast<off_t>(body.size());
  ngx_str_set(&r->headers_out.content_type, "application/json");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  ngx_buf_t* b = ngx_create_temp_buf(r->pool, body.size());
  if (b == nullptr) return NGX_ERROR;
  b->last = ngx_cpymem(b->last, body.data(), body.size());
  b->last_buf = (r == r->main) ? 1 : 0;
  b->last_in_chain = 1;
  ngx_chain_t out{b, nullptr};
  return ngx_http_output_filter(r, &out);
}

// Called when the whole body has been read (or at once if it was preread).
void BodyRead(ngx_http_request_t* r) {
  RequestCtx* ctx = GetCtx(r, false);
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  SetVerdict(r, ctx, Check(r, ctx, lcf));
  ctx->verify_done = true;
  r->preserve_body = 1;
  r->write_event_handler = ngx_http_core_run_phases;
  ngx_http_core_run_phases(r);
}

ngx_int_t Finish(ngx_http_request_t* r, RequestCtx* ctx, LocConf* lcf) {
  if (ctx->verdict == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  LogVerdict(r, *ctx->verdict);
  if (ctx->verdict->ok()) return NGX_OK;
  ngx_http_finalize_request(r, SendRejection(r, lcf, *ctx->verdict));
  return NGX_DONE;
}

}  // namespace

ngx_int_t VerifyAccessHandler(ngx_http_request_t* r) {
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  if (!lcf->verify || r != r->main) return NGX_DECLINED;
  RequestCtx* ctx = GetCtx(r, true);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  if (ctx->verify_done) return Finish(r, ctx, lcf);
  if (ctx->verify_started) return NGX_DONE;
  ctx->verify_started = true;

  if (lcf->max_body >= 0 && r->headers_in.content_length_n > lcf->max_body) {
    Verdict v;
    v.reason = Reason::kBodyTooLarge;
    v.detail = "Content-Length " + std::to_string(r->headers_in.content_length_n) +
               " exceeds dip_verify_max_body";
    SetVerdict(r, ctx, std::move(v));
    ctx->verify_done = true;
    return Finish(r, ctx, lcf);
  }
  ctx->hasher = PoolOwned<ContentHasher>(r->pool);
  if (ctx->hasher == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  ngx_int_t rc = ngx_http_read_client_request_body(r, BodyRead);
  if (rc >= NGX_HTTP_SPECIAL_RESPONSE) return rc;
  ngx_http_finalize_request(r, NGX_DONE);
  return NGX_DONE;
}

}  // namespace dipgate::nginx
