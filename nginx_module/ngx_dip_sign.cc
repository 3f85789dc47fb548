// dip_sign: signs requests that nginx proxies to the DIP. The body is
// hashed as it streams through the request body filter; once the upstream
// module (proxy_pass, or any other) has built the upstream request, the
// module signs it over the exact method, upstream URL and body. It removes
// from the upstream request every header line that IsDipHeaderName names
// (common/headers.h: X-DIP-Signature, X-DIP-Signature-Date,
// X-DIP-Signature-Certificate, X-DIP-Content-Hash, the legacy
// X-DIP-Certificate and X-API-KEY, in any case), whether the client sent it
// or a proxy_set_header added it, and adds its own. Other X-DIP-* headers
// pass through unchanged.
#include "common/headers.h"
#include "nginx_module/ngx_dip.h"

extern "C" ngx_module_t ngx_http_proxy_module;

namespace dipgate::nginx {
namespace {

// Above this many body bytes, a refusal from an endpoint that asks for the
// client certificate after the handshake is most likely its renegotiation
// buffer (about 100 KB on Azure, SSLRenegBufferSize in Apache httpd).
constexpr off_t kLargeBody = 64 * 1024;

ngx_http_output_header_filter_pt next_header_filter;

ngx_int_t Fail(ngx_http_request_t* r, RequestCtx* ctx, SignFailure failure,
               const std::string& why) {
  if (ctx->sign_status != nullptr) *ctx->sign_status = why;
  if (ctx->sign_identity != nullptr) CountSign(r, *ctx->sign_identity, failure);
  ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "%srefused: %s", kSignLog, why.c_str());
  return NGX_ERROR;
}

bool IsDipHeader(std::string_view line) {
  size_t colon = line.find(':');
  return colon != std::string_view::npos && IsDipHeaderName(line.substr(0, colon));
}

RequestSigner* WorkerSigner(MainConf* mcf, std::string_view name) {
  auto it = mcf->signers->find(name);
  if (it != mcf->signers->end()) return &it->second;
  auto identity = mcf->identities->Find(name);
  if (identity == nullptr) return nullptr;
  auto signer = RequestSigner::Create(identity);
  if (!signer) return nullptr;
  return &mcf->signers->emplace(std::string(name), std::move(*signer)).first->second;
}

// Wraps the upstream module's create_request: the request line and headers
// it built are rewritten with the signature headers added.
ngx_int_t CreateRequest(ngx_http_request_t* r) {
  RequestCtx* ctx = GetCtx(r, false);
  InjectFault(r, "sign");
  ngx_int_t rc = ctx->upstream_create_request(r);
  if (rc != NGX_OK) return rc;
  if (!ctx->body_done) {
    return Fail(r, ctx, SignFailure::kBodyNotBuffered,
                "the upstream request was built before the whole body was read; the "
                "signature covers the body, so proxy_request_buffering must be on");
  }
  ngx_http_upstream_t* u = r->upstream;
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
  if (u->request_bufs == nullptr || !ngx_buf_in_memory(u->request_bufs->buf)) {
    return Fail(r, ctx, SignFailure::kBadUpstreamRequest,
                "the upstream request has no header buffer to sign");
  }
  ngx_buf_t* b = u->request_bufs->buf;
  std::string_view head(reinterpret_cast<char*>(b->pos), b->last - b->pos);
  size_t end = head.find("\r\n\r\n");
  size_t line_end = head.find("\r\n");
  size_t space = head.find(' ');
  if (end == std::string_view::npos || space == std::string_view::npos || space > line_end) {
    return Fail(r, ctx, SignFailure::kBadUpstreamRequest,
                "the upstream request header is not HTTP/1.x");
  }
  std::string_view method = head.substr(0, space);

  std::string destination;
  if (lcf->sign_destination != nullptr) {
    ngx_str_t v;
    if (ngx_http_complex_value(r, lcf->sign_destination, &v) != NGX_OK) {
      return Fail(r, ctx, SignFailure::kNoUpstreamUrl, "cannot evaluate dip_sign_destination");
    }
    destination = ToStd(v);
  } else {
    // The URL the request is proxied to: scheme, $proxy_host, upstream URI.
    ngx_http_variable_value_t* host = ngx_http_get_indexed_variable(r, mcf->proxy_host_index);
    if (host == nullptr || host->not_found || u->schema.len == 0) {
      return Fail(r, ctx, SignFailure::kNoUpstreamUrl,
                  "cannot tell the upstream URL; set dip_sign_destination");
    }
    destination = ToStd(u->schema) +
                  std::string(reinterpret_cast<char*>(host->data), host->len) + ToStd(u->uri);
  }
  RequestSigner* signer = WorkerSigner(mcf, *ctx->sign_identity);
  if (signer == nullptr) {
    return Fail(r, ctx, SignFailure::kSigningFailed,
                "identity '" + *ctx->sign_identity + "' is unusable");
  }
  auto h = signer->SignHashed(method, destination, *ctx->content_hash, WallClockMillis());
  if (!h) return Fail(r, ctx, SignFailure::kSigningFailed, h.error().detail);

  std::string api_key;
  if (lcf->api_key != nullptr) {
    ngx_str_t key;
    if (ngx_http_complex_value(r, lcf->api_key, &key) != NGX_OK) {
      return Fail(r, ctx, SignFailure::kSigningFailed, "cannot evaluate dip_sign_api_key");
    }
    api_key = ToStd(key);
  }
  std::string extra;
  for (const auto& [name, value] : SignedHeaderList(*h, api_key)) {
    extra.append(name).append(": ").append(value).append("\r\n");
  }

  // Rebuild: request line, the headers without those IsDipHeaderName names,
  // ours, the blank line, and whatever followed in this buffer.
  std::string out;
  out.reserve(head.size() + extra.size());
  out.append(head.substr(0, line_end + 2));
  size_t pos = line_end + 2;
  while (pos < end + 2) {
    size_t next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next - pos);
    if (!IsDipHeader(line)) out.append(line).append("\r\n");
    pos = next + 2;
  }
  out.append(extra).append("\r\n").append(head.substr(end + 4));

  ngx_buf_t* nb = ngx_create_temp_buf(r->pool, out.size());
  if (nb == nullptr) return NGX_ERROR;
  nb->last = ngx_cpymem(nb->last, out.data(), out.size());
  nb->flush = b->flush;
  nb->last_buf = b->last_buf;
  u->request_bufs->buf = nb;
  *ctx->sign_status = "ok";
  CountSign(r, *ctx->sign_identity, std::nullopt);
  ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "%ssigned %*s %s as \"%s\"", kSignLog,
                method.size(), method.data(), destination.c_str(), ctx->sign_identity->c_str());
  return NGX_OK;
}

ngx_int_t GuardedCreateRequest(ngx_http_request_t* r) {
  return Guard<ngx_int_t>(r->connection->log, "dip_sign create_request", NGX_ERROR,
                          [&] { return CreateRequest(r); });
}

// A large signed body refused by the upstream is explained, never a silent
// 413: nginx sends the whole body right after the headers (it has no
// "Expect: 100-continue" upstream), so an endpoint that asks for the client
// certificate after the handshake refuses a body larger than what it
// buffers meanwhile on a connection that has not shown the certificate yet.
ngx_int_t HeaderFilter(ngx_http_request_t* r) {
  RequestCtx* ctx = r == r->main ? GetCtx(r, false) : nullptr;
  ngx_uint_t status = r->headers_out.status;
  if (ctx != nullptr && ctx->sign_enabled && r->upstream != nullptr &&
      r->upstream->ssl && (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE ||
                           status == NGX_HTTP_FORBIDDEN) &&
      ctx->body_bytes > kLargeBody) {
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "%supstream answered %ui to a %O-byte signed body: an endpoint that asks for "
                  "the TLS client certificate after the handshake (TLS 1.2 renegotiation, TLS "
                  "1.3 post-handshake auth; Azure-hosted DIP endpoints) holds only about 100 KB "
                  "of body until the certificate arrives, and nginx cannot make the body wait "
                  "for it; send bodies over 100 KB through dipgate-bridge or dipctl send, which "
                  "do (docs/nginx.md)",
                  kSignLog, status, ctx->body_bytes);
  }
  return next_header_filter(r);
}

ngx_int_t GuardedHeaderFilter(ngx_http_request_t* r) {
  return Guard<ngx_int_t>(r->connection->log, "dip_sign header filter", NGX_ERROR,
                          [&] { return HeaderFilter(r); });
}

}  // namespace

ngx_int_t SignAccessHandler(ngx_http_request_t* r) {
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  if (lcf->sign == nullptr || r != r->main) return NGX_DECLINED;
  RequestCtx* ctx = GetCtx(r, true);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  if (ctx->sign_enabled) return NGX_DECLINED;

  ngx_str_t name;
  if (ngx_http_complex_value(r, lcf->sign, &name) != NGX_OK) return NGX_ERROR;
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
  ctx->sign_identity = PoolOwned<std::string>(r->pool);
  ctx->sign_status = PoolOwned<std::string>(r->pool);
  ctx->content_hash = PoolOwned<std::string>(r->pool);
  ctx->hasher = PoolOwned<ContentHasher>(r->pool);
  if (ctx->sign_identity == nullptr || ctx->sign_status == nullptr ||
      ctx->content_hash == nullptr || ctx->hasher == nullptr) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  *ctx->sign_identity = ToStd(name);
  if (mcf->identities->Find(*ctx->sign_identity) == nullptr) {
    Fail(r, ctx, SignFailure::kUnknownIdentity, "no dip_sign_identity named '" + *ctx->sign_identity + "'");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  *ctx->sign_status = "pending";
  ctx->sign_enabled = true;
  // A request without a body still passes through the body filter (where
  // the upstream request is hooked) when it declares an empty one; the
  // content hash of an empty body is that of "{}" either way.
  if (r->headers_in.content_length_n < 0 && !r->headers_in.chunked) {
    r->headers_in.content_length_n = 0;
  }
  return NGX_DECLINED;
}

ngx_int_t SignBodyStep(ngx_http_request_t* r, RequestCtx* ctx, bool last) {
  if (!ctx->wrapped && r->upstream != nullptr) {
    ctx->upstream_create_request = r->upstream->create_request;
    r->upstream->create_request = GuardedCreateRequest;
    ctx->wrapped = true;
  }
  if (!last) return NGX_OK;
  if (!ctx->wrapped) {
    Fail(r, ctx, SignFailure::kBodyNotBuffered,
         "the body was read before an upstream module took the request; use dip_sign with "
         "proxy_pass (and no other module reading the body first)");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  *ctx->content_hash = ctx->hasher->Finish();
  return NGX_OK;
}

}  // namespace dipgate::nginx

namespace dipgate::nginx {

// The proxy module's location configuration (ngx_http_proxy_loc_conf_t) is
// private to ngx_http_proxy_module.c, but its first member is
// `ngx_http_upstream_conf_t upstream` (nginx 1.22 and every release before
// and since), whose `ssl` holds the SSL_CTX that proxy_pass https:// builds
// in the proxy's merge. During a merge, cf->ctx holds the location being
// merged, as the proxy module's own merge relies on.
ngx_int_t RecordSigningUpstream(ngx_conf_t* cf, MainConf* mcf) {
  auto* upstream = static_cast<ngx_http_upstream_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_proxy_module));
  if (upstream == nullptr) return NGX_OK;
  auto** slot = static_cast<ngx_http_upstream_conf_t**>(ngx_array_push(mcf->signing_upstreams));
  if (slot == nullptr) return NGX_ERROR;
  *slot = upstream;
  return NGX_OK;
}

// Runs after every module's merge, so the TLS contexts of proxy_pass
// https:// exist whichever order the modules were loaded in. OpenSSL offers
// no SSL_CONF command for post-handshake auth (proxy_ssl_conf_command cannot
// do it): it is SSL_CTX_set_post_handshake_auth, before any handshake. A
// context shared with a location that does not sign gets it too; that only
// lets its server ask for the certificate proxy_ssl_certificate names.
ngx_int_t SignPostConfiguration(ngx_conf_t* cf, MainConf* mcf) {
  auto** upstreams = static_cast<ngx_http_upstream_conf_t**>(mcf->signing_upstreams->elts);
  for (ngx_uint_t i = 0; i < mcf->signing_upstreams->nelts; ++i) {
    ngx_ssl_t* ssl = upstreams[i]->ssl;
    if (ssl != nullptr && ssl->ctx != nullptr) {
      SSL_CTX_set_post_handshake_auth(ssl->ctx, 1);
    }
  }
  (void)cf;
  next_header_filter = ngx_http_top_header_filter;
  ngx_http_top_header_filter = GuardedHeaderFilter;
  return NGX_OK;
}

}  // namespace dipgate::nginx
