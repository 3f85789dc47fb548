// dip_verify: checks the X-DIP signature headers of inbound webhooks from
// the DIP before the request goes on (typically proxy_pass to the internal
// application). The body is read in full (memory or temp file, chunked or
// not), hashed as it streams through the request body filter, and passed
// on unchanged.
#include <chrono>

#include "common/dip/message.h"
#include "common/headers.h"
#include "nginx_module/ngx_dip.h"

namespace dipgate::nginx {
namespace {

// The DIP headers of the request, by the core's one rule (repeats,
// the legacy certificate header).
DipHeaderCollector CollectHeaders(ngx_http_request_t* r) {
  DipHeaderCollector out;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) {
      out.Add(std::string_view(reinterpret_cast<char*>(h[i].key.data), h[i].key.len),
              std::string_view(reinterpret_cast<char*>(h[i].value.data), h[i].value.len));
    }
  }
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
  p.replay_store = lcf->replay_store;
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

// A signature held by replay protection for one request, settled when the
// request is freed (its pool destroyed) by how it was answered: a 2xx sent
// whole counts it as seen; anything else (the application's 503, a 400, a
// client gone, an upstream timeout) forgets it, so that the DIP's retry of
// the same request is verified again instead of being refused as replayed.
class HeldSignature {
 public:
  HeldSignature(ngx_http_request_t* r, Verifier* verifier, const Verdict& verdict)
      : r_(r), verifier_(verifier) {
    held_.replay_hold = verdict.replay_hold;
  }
  ~HeldSignature() {
    ngx_uint_t status = r_->headers_out.status;
    bool accepted = r_->header_sent && status >= NGX_HTTP_OK &&
                    status < NGX_HTTP_SPECIAL_RESPONSE && !r_->connection->error;
    try {
      verifier_->Settle(held_, accepted);
    } catch (...) {  // out of memory: the hold lapses by itself
    }
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r_->connection->log, 0,
                   "dip_verify: replay hold settled: status %ui, %s", status,
                   accepted ? "seen" : "forgotten");
  }
  HeldSignature(const HeldSignature&) = delete;
  HeldSignature& operator=(const HeldSignature&) = delete;

 private:
  ngx_http_request_t* r_;
  Verifier* verifier_;
  Verdict held_;
};

void SetVerdict(ngx_http_request_t* r, RequestCtx* ctx, Verdict verdict) {
  if (ctx->verdict == nullptr) ctx->verdict = PoolOwned<Verdict>(r->pool);
  if (ctx->verdict != nullptr) *ctx->verdict = std::move(verdict);
}

// dip_verify_schemas: every message of the (verified) body against the
// schema of its interface and event code, all or nothing.
void CheckSchema(ngx_http_request_t* r, RequestCtx* ctx, LocConf* lcf, Verdict* v) {
  size_t limit = lcf->max_body >= 0 ? static_cast<size_t>(lcf->max_body) : SIZE_MAX;
  auto body = ReadRequestBody(r, limit);
  if (!body) {
    v->reason = body.reason();
    v->detail = "dip_verify_schemas: " + body.error().detail;
    return;
  }
  dip::SchemaVerdict sv;
  auto array = dip::MessageArray::Parse(*body);
  if (!array) {
    sv.reason = array.reason();
    sv.detail = array.error().detail;
  } else {
    dip::Expectations expect;
    if (lcf->channel != nullptr) {
      ngx_str_t channel;
      if (ngx_http_complex_value(r, lcf->channel, &channel) != NGX_OK) {
        v->reason = Reason::kInternalError;
        v->detail = "cannot evaluate dip_verify_channel";
        return;
      }
      expect.channel = ToStd(channel);
    }
    expect.environment_tags =
        dip::EnvironmentTagsFor(ToString(static_cast<Environment>(lcf->trust_conf.environment)));
    sv = (*lcf->schemas)->Validate(*array, expect);
  }
  if (sv.ok()) return;
  ctx->schema = PoolOwned<dip::SchemaVerdict>(r->pool, sv);
  v->reason = sv.reason;
  v->header.clear();
  v->detail = "message " + std::to_string(sv.message) +
              (sv.pointer.empty() ? "" : " at " + sv.pointer) + ": " + sv.detail;
}

Verdict Check(ngx_http_request_t* r, RequestCtx* ctx, LocConf* lcf) {
  Verdict v;
  if (ctx->body_too_large) {
    v.reason = Reason::kBodyTooLarge;
    v.detail = "body of " + std::to_string(ctx->body_bytes) + " bytes exceeds dip_verify_max_body";
    return v;
  }
  DipHeaderCollector h = CollectHeaders(r);
  if (!h.duplicate().empty()) {
    v.reason = Reason::kDuplicateHeader;
    v.header = std::string(h.duplicate());
    v.detail = v.header + " appears more than once";
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
  req.signature = h.signature();
  req.signature_date = h.signature_date();
  req.certificate = h.certificate();
  req.content_hash = h.content_hash();
  v = verifier->Verify(req, WallClockMillis());
  if (!v.replay_hold.empty() && PoolOwned<HeldSignature>(r->pool, r, verifier, v) == nullptr) {
    verifier->Settle(v, false);
    v.reason = Reason::kInternalError;
    v.detail = "out of memory";
    return v;
  }
  if (!verifier->reload_error().empty()) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "%sreloading CA or CRL files failed, the previous ones stay in use: %s",
                  kVerifyLog, verifier->reload_error().c_str());
  }
  if (v.ok() && lcf->schemas != nullptr) CheckSchema(r, ctx, lcf, &v);
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

// Called when the whole body has been read (or at once if it was preread).
void BodyRead(ngx_http_request_t* r) {
  RequestCtx* ctx = GetCtx(r, false);
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  ngx_int_t rc = Guard<ngx_int_t>(r->connection->log, "dip_verify body handler", NGX_ERROR, [&] {
    InjectFault(r, "body");
    auto started = std::chrono::steady_clock::now();
    SetVerdict(r, ctx, Check(r, ctx, lcf));
    ctx->verify_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    return NGX_OK;
  });
  if (rc != NGX_OK) {
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  ctx->verify_done = true;
  r->preserve_body = 1;
  r->write_event_handler = ngx_http_core_run_phases;
  ngx_http_core_run_phases(r);
}

ngx_int_t Finish(ngx_http_request_t* r, RequestCtx* ctx, LocConf* lcf) {
  if (ctx->verdict == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  LogVerdict(r, *ctx->verdict);
  CountVerdict(r, *ctx->verdict, ctx->schema != nullptr, ctx->verify_ns);
  if (ctx->verdict->ok()) return NGX_OK;
  ngx_http_finalize_request(r, SendRefusal(r, lcf, *ctx->verdict, ctx->schema));
  return NGX_DONE;
}

}  // namespace

ngx_int_t VerifyAccessHandler(ngx_http_request_t* r) {
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  if (!lcf->verify || r != r->main) return NGX_DECLINED;
  RequestCtx* ctx = GetCtx(r, true);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  InjectFault(r, "verify");
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
