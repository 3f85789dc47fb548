// Shared declarations of the dipgate nginx module: configuration, the
// per-request context, and the entry points each file provides. nginx's
// headers enter C++ only here, inside extern "C".
#ifndef DIPGATE_NGINX_MODULE_NGX_DIP_H_
#define DIPGATE_NGINX_MODULE_NGX_DIP_H_

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}

#include <exception>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/digest.h"
#include "common/dip/schema.h"
#include "common/signer.h"
#include "common/trust_store.h"
#include "common/verifier.h"

extern "C" ngx_module_t ngx_http_dip_module;

namespace dipgate::nginx {

// Log prefixes; tests and operators grep for them.
inline constexpr char kVerifyLog[] = "dip_verify: ";
inline constexpr char kSignLog[] = "dip_sign: ";
inline constexpr char kModuleLog[] = "dipgate: ";

struct MainConf {
  IdentitySet* identities;  // dip_sign_identity, loaded at configuration time
  // Signers per identity, made lazily in each worker (not shared).
  std::map<std::string, RequestSigner, std::less<>>* signers;
  ngx_int_t proxy_host_index;  // $proxy_host, for the default destination
  // dip_verify_schemas directories loaded so far, shared by the locations
  // that name the same one.
  std::map<std::string, std::shared_ptr<const dip::SchemaSet>>* schema_sets;
  // The proxy module's upstream configuration of every location that signs
  // (ngx_http_upstream_conf_t*), for TLS 1.3 post-handshake auth.
  ngx_array_t* signing_upstreams;
  // dip_metrics_zone (NULL: nothing counted) and whether a location serves
  // dip_metrics; every trust store of the configuration, for its gauges.
  ngx_shm_zone_t* metrics_zone;
  ngx_flag_t metrics_served;
  std::vector<std::shared_ptr<TrustStore>>* trust_stores;
};

// The directives that decide a location's trust store, kept together so that
// MergeLocConf can tell "same trust as the parent" by comparing the struct
// as a whole (SameTrust, byte for byte): a field added here is part of that
// comparison without anyone having to list it.
struct TrustConf {
  ngx_array_t* trusted_certificates;  // ngx_str_t paths
  ngx_array_t* crls;
  ngx_flag_t revocation;
  ngx_flag_t allow_expired_crl;
  ngx_uint_t environment;  // dipgate::Environment
};

struct LocConf {
  // verify
  ngx_flag_t verify;
  TrustConf trust_conf;  // what `trust` is built from
  ngx_http_complex_value_t* verify_destination;
  ngx_msec_t window;
  ngx_flag_t replay;
  ngx_shm_zone_t* replay_zone;  // dip_verify_replay ZONE; NULL: per worker
  ReplayStore* replay_store;    // over replay_zone, made at configuration time
  ngx_uint_t replay_size;
  ngx_uint_t cache_size;
  ngx_array_t* allow_subjects;
  ngx_array_t* allow_organizations;
  ngx_array_t* allow_fingerprints;
  off_t max_body;
  ngx_uint_t reject_status;       // the sender's faults (401)
  ngx_uint_t unavailable_status;  // our own faults: the DIP retries (503)
  time_t retry_after;             // Retry-After of unavailable answers; 0: none
  ngx_str_t participant_id;       // our DIP ID, senderID of our answers
  ngx_str_t schemas_path;         // dip_verify_schemas; empty: no schema check
  std::shared_ptr<const dip::SchemaSet>* schemas;
  ngx_http_complex_value_t* channel;  // dip_verify_channel; NULL: any
  std::shared_ptr<TrustStore>* trust;  // built at configuration time
  Verifier* verifier;                  // made lazily in each worker

  // sign
  ngx_http_complex_value_t* sign;  // identity name; NULL: off
  ngx_http_complex_value_t* sign_destination;
  ngx_http_complex_value_t* api_key;
};

// What one request learnt; lives in the request pool.
struct RequestCtx {
  // verify
  bool verify_started;
  bool verify_done;
  bool body_too_large;
  off_t body_bytes;
  ContentHasher* hasher;  // both directions hash the body as it streams
  Verdict* verdict;
  dip::SchemaVerdict* schema;  // set when the body failed dip_verify_schemas
  int64_t verify_ns;           // time spent in the checks, for the metrics
  // sign
  bool sign_enabled;
  bool body_done;
  bool wrapped;
  ngx_int_t (*upstream_create_request)(ngx_http_request_t* r);
  std::string* content_hash;
  std::string* sign_status;  // "ok" or why not
  std::string* sign_identity;
};

RequestCtx* GetCtx(ngx_http_request_t* r, bool create);

// ngx_dip_verify.cc
ngx_int_t VerifyAccessHandler(ngx_http_request_t* r);
// ngx_dip_answer.cc: the body as received (memory or temp file), up to
// `limit` bytes; false when unreadable or larger.
Result<std::string> ReadRequestBody(ngx_http_request_t* r, size_t limit);
// Answers a refused webhook the way the DIP expects (a StandardResponse,
// 401/400 for the sender's faults, 503 + Retry-After for ours).
ngx_int_t SendRefusal(ngx_http_request_t* r, LocConf* lcf, const Verdict& v,
                      const dip::SchemaVerdict* schema);
// Sends the status and headers set so far, with Content-Length, then
// `body` whole (a content handler's answer).
ngx_int_t SendWholeBody(ngx_http_request_t* r, std::string_view body);
// ngx_dip_replay.cc
char* SetReplayZone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* SetReplay(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
ngx_int_t CheckReplayZone(ngx_conf_t* cf, ngx_shm_zone_t* zone);
ReplayStore* ReplayStoreFor(ngx_pool_t* pool, ngx_shm_zone_t* zone);
// ngx_dip_sign.cc
ngx_int_t SignAccessHandler(ngx_http_request_t* r);
ngx_int_t SignBodyStep(ngx_http_request_t* r, RequestCtx* ctx, bool last);
// At merge time, for a location that signs: remembers its proxy upstream.
ngx_int_t RecordSigningUpstream(ngx_conf_t* cf, MainConf* mcf);
// At postconfiguration, when every proxy_pass has its TLS context: enables
// TLS 1.3 post-handshake auth on those of the locations that sign; installs
// the header filter that explains refusals of large signed bodies.
ngx_int_t SignPostConfiguration(ngx_conf_t* cf, MainConf* mcf);
// ngx_dip_metrics.cc
// Why dip_sign did not sign (the words of dipgate_nginx_sign_total).
enum class SignFailure {
  kUnknownIdentity,     // no dip_sign_identity of that name
  kBodyNotBuffered,     // the body was not read whole before the upstream request
  kNoUpstreamUrl,       // the URL to sign cannot be told
  kBadUpstreamRequest,  // the upstream request is not one dip_sign can sign
  kSigningFailed,       // the identity's key did not sign
};
char* SetMetricsZone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* SetMetrics(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
ngx_int_t MetricsPostConfiguration(ngx_conf_t* cf, MainConf* mcf);
// Counters, when a dip_metrics_zone is declared (otherwise nothing).
void CountVerdict(ngx_http_request_t* r, const Verdict& v, bool schema_refused,
                  int64_t elapsed_ns);
void CountSign(ngx_http_request_t* r, std::string_view identity,
               std::optional<SignFailure> failure);
// ngx_dip_module.cc
ngx_int_t HashBody(RequestCtx* ctx, ngx_chain_t* in, bool* last);
// ngx_dip_variables.cc
ngx_int_t AddVariables(ngx_conf_t* cf);

std::string ToStd(const ngx_str_t& s);
// The strings of an ngx_array_t of ngx_str_t (NULL: none).
std::vector<std::string> ToStrings(ngx_array_t* a);

// A new T (constructed from `args`) deleted when `pool` is destroyed: the
// request pool for per-request objects, the configuration pool for objects
// that live until the next reload. NULL when out of memory.
template <typename T, typename... Args>
T* PoolOwned(ngx_pool_t* pool, Args&&... args) {
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(pool, 0);
  if (cln == nullptr) return nullptr;
  T* object = new (std::nothrow) T(std::forward<Args>(args)...);
  if (object == nullptr) return nullptr;
  cln->handler = [](void* data) { delete static_cast<T*>(data); };
  cln->data = object;
  return object;
}
ngx_str_t CopyToPool(ngx_pool_t* pool, std::string_view s);
// The shared memory zone a "*_zone NAME:SIZE" directive declares (the
// directive's first argument), with `init` and a zeroed `data_size`-byte
// `data` for it; NULL, with the error logged, when the argument is not
// NAME:SIZE, the size is under `least` bytes or the name is taken.
ngx_shm_zone_t* AddZone(ngx_conf_t* cf, const char* example, size_t least, ngx_shm_zone_init_pt init,
                        size_t data_size);

// No C++ exception crosses into nginx: every callback nginx calls runs its
// body through Guard, which logs what was thrown (with `where`) and returns
// `failure` (NGX_ERROR, NGX_CONF_ERROR, a 500).
template <typename R, typename F>
R Guard(ngx_log_t* log, const char* where, R failure, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, log, 0, "%s%s: exception: %s", kModuleLog, where, e.what());
  } catch (...) {
    ngx_log_error(NGX_LOG_ERR, log, 0, "%s%s: unknown exception", kModuleLog, where);
  }
  return failure;
}

// Guarded forms of the callback shapes nginx uses, for its tables.
template <ngx_int_t (*F)(ngx_http_request_t*)>
ngx_int_t GuardedHandler(ngx_http_request_t* r) {
  return Guard<ngx_int_t>(r->connection->log, "request handler", NGX_HTTP_INTERNAL_SERVER_ERROR,
                          [&] { return F(r); });
}
template <char* (*F)(ngx_conf_t*, ngx_command_t*, void*)>
char* GuardedDirective(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  return Guard<char*>(cf->log, "directive", static_cast<char*>(NGX_CONF_ERROR),
                      [&] { return F(cf, cmd, conf); });
}

// Builds with -DDIPGATE_FAULT_INJECTION (a test-only module) throw where a
// request carries "X-Dipgate-Fault: <point>", to prove the guards hold.
#ifdef DIPGATE_FAULT_INJECTION
void InjectFault(ngx_http_request_t* r, std::string_view point);
#else
inline void InjectFault(ngx_http_request_t*, std::string_view) {}
#endif

}  // namespace dipgate::nginx

#endif  // DIPGATE_NGINX_MODULE_NGX_DIP_H_
