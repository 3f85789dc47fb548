// The dipgate nginx module's definition: the directive table, the module
// context, creating and merging the configurations (the trust store and the
// signing identities are loaded here, at `nginx -t` time), registering the
// access-phase handlers (defined in ngx_dip_verify.cc and ngx_dip_sign.cc),
// the request body filter that hashes the body as it streams, and the
// helpers the other files share. DIP logic lives in common/; this is glue.
//
// File order follows nginx's own modules: types and declarations, the
// directive table, the module context and definition, then handlers and
// configuration functions. Only ngx_http_dip_module is exported.
#include "nginx_module/ngx_dip.h"

#include <algorithm>
#include <new>
#include <type_traits>

namespace dipgate::nginx {
namespace {

void* CreateMainConf(ngx_conf_t* cf);
void* CreateLocConf(ngx_conf_t* cf);
char* MergeLocConf(ngx_conf_t* cf, void* parent, void* child);
ngx_int_t PreConfiguration(ngx_conf_t* cf);
ngx_int_t PostConfiguration(ngx_conf_t* cf);
char* SetIdentity(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* SetSign(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
char* CheckRejectStatus(ngx_conf_t* cf, void* post, void* data);
char* SetEnvironment(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);
ngx_int_t LoadSchemas(ngx_conf_t* cf, LocConf* conf);

ngx_conf_enum_t kEnvironments[] = {
    {ngx_string("any"), static_cast<ngx_uint_t>(Environment::kAny)},
    {ngx_string("prod"), static_cast<ngx_uint_t>(Environment::kProd)},
    {ngx_string("nonprod"), static_cast<ngx_uint_t>(Environment::kNonProd)},
    {ngx_null_string, 0}};

ngx_conf_post_t kRejectStatusPost = {CheckRejectStatus};

template <ngx_int_t (*F)(ngx_conf_t*)>
ngx_int_t GuardedConf(ngx_conf_t* cf) {
  return Guard<ngx_int_t>(cf->log, "configuration", NGX_ERROR, [&] { return F(cf); });
}
template <void* (*F)(ngx_conf_t*)>
void* GuardedCreate(ngx_conf_t* cf) {
  return Guard<void*>(cf->log, "configuration", nullptr, [&] { return F(cf); });
}
char* GuardedMerge(ngx_conf_t* cf, void* parent, void* child) {
  return Guard<char*>(cf->log, "configuration", static_cast<char*>(NGX_CONF_ERROR),
                      [&] { return MergeLocConf(cf, parent, child); });
}

constexpr ngx_uint_t kLoc = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

#define DIP_LOC(field) NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, field)

ngx_command_t kCommands[] = {
    {ngx_string("dip_verify"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot, DIP_LOC(verify),
     nullptr},
    {ngx_string("dip_verify_trusted_certificate"), kLoc | NGX_CONF_TAKE1,
     ngx_conf_set_str_array_slot, DIP_LOC(trust_conf.trusted_certificates), nullptr},
    {ngx_string("dip_verify_crl"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_array_slot,
     DIP_LOC(trust_conf.crls), nullptr},
    {ngx_string("dip_verify_revocation"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     DIP_LOC(trust_conf.revocation), nullptr},
    {ngx_string("dip_verify_allow_expired_crl"), kLoc | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     DIP_LOC(trust_conf.allow_expired_crl), nullptr},
    {ngx_string("dip_verify_environment"), kLoc | NGX_CONF_TAKE1, GuardedDirective<SetEnvironment>,
     DIP_LOC(trust_conf.environment), kEnvironments},
    {ngx_string("dip_verify_destination"), kLoc | NGX_CONF_TAKE1,
     ngx_http_set_complex_value_slot, DIP_LOC(verify_destination), nullptr},
    {ngx_string("dip_verify_window"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_msec_slot,
     DIP_LOC(window), nullptr},
    {ngx_string("dip_verify_replay"), kLoc | NGX_CONF_TAKE1, GuardedDirective<SetReplay>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("dip_verify_replay_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     GuardedDirective<SetReplayZone>, 0, 0, nullptr},
    {ngx_string("dip_verify_replay_size"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_num_slot,
     DIP_LOC(replay_size), nullptr},
    {ngx_string("dip_verify_cache_size"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_num_slot,
     DIP_LOC(cache_size), nullptr},
    {ngx_string("dip_verify_allow_subject"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_array_slot,
     DIP_LOC(allow_subjects), nullptr},
    {ngx_string("dip_verify_allow_organization"), kLoc | NGX_CONF_TAKE1,
     ngx_conf_set_str_array_slot, DIP_LOC(allow_organizations), nullptr},
    {ngx_string("dip_verify_allow_fingerprint"), kLoc | NGX_CONF_TAKE1,
     ngx_conf_set_str_array_slot, DIP_LOC(allow_fingerprints), nullptr},
    {ngx_string("dip_verify_max_body"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_off_slot,
     DIP_LOC(max_body), nullptr},
    {ngx_string("dip_verify_reject_status"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_num_slot,
     DIP_LOC(reject_status), &kRejectStatusPost},
    {ngx_string("dip_verify_unavailable_status"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_num_slot,
     DIP_LOC(unavailable_status), &kRejectStatusPost},
    {ngx_string("dip_verify_retry_after"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_sec_slot,
     DIP_LOC(retry_after), nullptr},
    {ngx_string("dip_verify_participant_id"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     DIP_LOC(participant_id), nullptr},
    {ngx_string("dip_verify_schemas"), kLoc | NGX_CONF_TAKE1, ngx_conf_set_str_slot,
     DIP_LOC(schemas_path), nullptr},
    {ngx_string("dip_verify_channel"), kLoc | NGX_CONF_TAKE1, ngx_http_set_complex_value_slot,
     DIP_LOC(channel), nullptr},
    {ngx_string("dip_metrics_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     GuardedDirective<SetMetricsZone>, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("dip_metrics"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, GuardedDirective<SetMetrics>,
     0, 0, nullptr},
    {ngx_string("dip_sign_identity"), NGX_HTTP_MAIN_CONF | NGX_CONF_2MORE,
     GuardedDirective<SetIdentity>, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    {ngx_string("dip_sign"), kLoc | NGX_CONF_TAKE1, GuardedDirective<SetSign>, DIP_LOC(sign),
     nullptr},
    {ngx_string("dip_sign_destination"), kLoc | NGX_CONF_TAKE1, ngx_http_set_complex_value_slot,
     DIP_LOC(sign_destination), nullptr},
    {ngx_string("dip_sign_api_key"), kLoc | NGX_CONF_TAKE1, ngx_http_set_complex_value_slot,
     DIP_LOC(api_key), nullptr},
    ngx_null_command};

#undef DIP_LOC

ngx_http_module_t kModuleCtx = {
    GuardedConf<PreConfiguration>,    /* preconfiguration */
    GuardedConf<PostConfiguration>,   /* postconfiguration */
    GuardedCreate<CreateMainConf>,    /* create main configuration */
    nullptr,                          /* init main configuration */
    nullptr,                          /* create server configuration */
    nullptr,                          /* merge server configuration */
    GuardedCreate<CreateLocConf>,     /* create location configuration */
    GuardedMerge                      /* merge location configuration */
};

ngx_http_request_body_filter_pt next_request_body_filter;

}  // namespace
}  // namespace dipgate::nginx

extern "C" {
ngx_module_t ngx_http_dip_module = {
    NGX_MODULE_V1,
    &dipgate::nginx::kModuleCtx, /* module context */
    dipgate::nginx::kCommands,   /* module directives */
    NGX_HTTP_MODULE,             /* module type */
    nullptr,                     /* init master */
    nullptr,                     /* init module */
    nullptr,                     /* init process */
    nullptr,                     /* init thread */
    nullptr,                     /* exit thread */
    nullptr,                     /* exit process */
    nullptr,                     /* exit master */
    NGX_MODULE_V1_PADDING};
}

namespace dipgate::nginx {

std::string ToStd(const ngx_str_t& s) {
  return std::string(reinterpret_cast<const char*>(s.data), s.len);
}

std::vector<std::string> ToStrings(ngx_array_t* a) {
  std::vector<std::string> out;
  if (a == nullptr) return out;
  auto* s = static_cast<ngx_str_t*>(a->elts);
  for (ngx_uint_t i = 0; i < a->nelts; ++i) out.push_back(ToStd(s[i]));
  return out;
}

ngx_str_t CopyToPool(ngx_pool_t* pool, std::string_view s) {
  ngx_str_t out{0, nullptr};
  out.data = static_cast<u_char*>(ngx_pnalloc(pool, s.size() + 1));
  if (out.data == nullptr) return out;
  ngx_memcpy(out.data, s.data(), s.size());
  out.data[s.size()] = '\0';
  out.len = s.size();
  return out;
}

ngx_shm_zone_t* AddZone(ngx_conf_t* cf, const char* example, size_t least,
                        ngx_shm_zone_init_pt init, size_t data_size) {
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_str_t directive = args[0], value = args[1];
  u_char* colon = static_cast<u_char*>(ngx_strlchr(value.data, value.data + value.len, ':'));
  if (colon == nullptr || colon == value.data) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" takes NAME:SIZE, e.g. %s, not \"%V\"",
                       &directive, example, &value);
    return nullptr;
  }
  ngx_str_t name{static_cast<size_t>(colon - value.data), value.data};
  ngx_str_t size_text{value.len - name.len - 1, colon + 1};
  ssize_t size = ngx_parse_size(&size_text);
  if (size == NGX_ERROR || size < static_cast<ssize_t>(least)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" \"%V\": size must be at least %uz bytes",
                       &directive, &name, least);
    return nullptr;
  }
  ngx_shm_zone_t* zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_dip_module);
  if (zone == nullptr) return nullptr;
  if (zone->data != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" \"%V\" is duplicate", &directive, &name);
    return nullptr;
  }
  zone->data = ngx_pcalloc(cf->pool, data_size);
  if (zone->data == nullptr) return nullptr;
  zone->init = init;
  return zone;
}

RequestCtx* GetCtx(ngx_http_request_t* r, bool create) {
  auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(r, ngx_http_dip_module));
  if (ctx != nullptr || !create) return ctx;
  ctx = static_cast<RequestCtx*>(ngx_pcalloc(r->pool, sizeof(RequestCtx)));
  if (ctx == nullptr) return nullptr;
  ngx_http_set_ctx(r, ctx, ngx_http_dip_module);
  return ctx;
}

// Hashes the memory buffers of `in`. A buffer that lives only in a file
// cannot come through here (the filter runs before the body is saved), so
// one that does is refused rather than silently skipped.
ngx_int_t HashBody(RequestCtx* ctx, ngx_chain_t* in, bool* last) {
  for (ngx_chain_t* cl = in; cl != nullptr; cl = cl->next) {
    ngx_buf_t* b = cl->buf;
    if (b->in_file && !ngx_buf_in_memory(b)) return NGX_ERROR;
    if (ngx_buf_in_memory(b) && b->last > b->pos) {
      size_t n = static_cast<size_t>(b->last - b->pos);
      ctx->body_bytes += static_cast<off_t>(n);
      if (!ctx->body_too_large) {
        ctx->hasher->Update(std::string_view(reinterpret_cast<const char*>(b->pos), n));
      }
    }
    if (b->last_buf) *last = true;
  }
  return NGX_OK;
}

namespace {

ngx_int_t FilterBody(ngx_http_request_t* r, ngx_chain_t* in) {
  RequestCtx* ctx = GetCtx(r, false);
  if (ctx != nullptr && ctx->hasher != nullptr && !ctx->body_done) {
    bool last = false;
    if (HashBody(ctx, in, &last) != NGX_OK) {
      ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                    "%srequest body buffer is in a file only; refusing to guess its bytes",
                    kModuleLog);
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
    if (lcf->verify && lcf->max_body >= 0 && ctx->body_bytes > lcf->max_body) {
      ctx->body_too_large = true;  // reading goes on, bounded by client_max_body_size
    }
    if (ctx->sign_enabled) {
      ngx_int_t rc = SignBodyStep(r, ctx, last);
      if (rc != NGX_OK) return rc;
    }
    if (last) ctx->body_done = true;
  }
  return next_request_body_filter(r, in);
}

ngx_int_t RequestBodyFilter(ngx_http_request_t* r, ngx_chain_t* in) {
  return Guard<ngx_int_t>(r->connection->log, "request body filter", NGX_HTTP_INTERNAL_SERVER_ERROR,
                          [&] { return FilterBody(r, in); });
}

void* CreateMainConf(ngx_conf_t* cf) {
  auto* mcf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
  if (mcf == nullptr) return nullptr;
  mcf->identities = PoolOwned<IdentitySet>(cf->pool);
  mcf->signers = PoolOwned<std::map<std::string, RequestSigner, std::less<>>>(cf->pool);
  mcf->schema_sets =
      PoolOwned<std::map<std::string, std::shared_ptr<const dip::SchemaSet>>>(cf->pool);
  mcf->signing_upstreams = ngx_array_create(cf->pool, 4, sizeof(ngx_http_upstream_conf_t*));
  mcf->trust_stores = PoolOwned<std::vector<std::shared_ptr<TrustStore>>>(cf->pool);
  if (mcf->identities == nullptr || mcf->signers == nullptr || mcf->schema_sets == nullptr ||
      mcf->signing_upstreams == nullptr || mcf->trust_stores == nullptr) {
    return nullptr;
  }
  mcf->proxy_host_index = NGX_ERROR;
  return mcf;
}

void* CreateLocConf(ngx_conf_t* cf) {
  auto* conf = static_cast<LocConf*>(ngx_pcalloc(cf->pool, sizeof(LocConf)));
  if (conf == nullptr) return nullptr;
  /*
   * set by ngx_pcalloc():
   *   conf->verify_destination = NULL; conf->trust = NULL;
   *   conf->verifier = NULL; conf->sign_destination = NULL; conf->api_key = NULL;
   *   conf->replay_zone = NULL; conf->replay_store = NULL; conf->schemas = NULL;
   *   conf->participant_id = { 0, NULL }; conf->schemas_path = { 0, NULL };
   *   conf->channel = NULL;
   */
  conf->verify = NGX_CONF_UNSET;
  conf->trust_conf.trusted_certificates = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  conf->trust_conf.crls = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  conf->trust_conf.revocation = NGX_CONF_UNSET;
  conf->trust_conf.allow_expired_crl = NGX_CONF_UNSET;
  conf->trust_conf.environment = NGX_CONF_UNSET_UINT;
  conf->window = NGX_CONF_UNSET_MSEC;
  conf->replay = NGX_CONF_UNSET;
  conf->replay_size = NGX_CONF_UNSET_UINT;
  conf->cache_size = NGX_CONF_UNSET_UINT;
  conf->allow_subjects = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  conf->allow_organizations = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  conf->allow_fingerprints = static_cast<ngx_array_t*>(NGX_CONF_UNSET_PTR);
  conf->max_body = NGX_CONF_UNSET;
  conf->reject_status = NGX_CONF_UNSET_UINT;
  conf->unavailable_status = NGX_CONF_UNSET_UINT;
  conf->retry_after = NGX_CONF_UNSET;
  conf->sign = static_cast<ngx_http_complex_value_t*>(NGX_CONF_UNSET_PTR);
  return conf;
}

void MergeTrustConf(TrustConf* conf, const TrustConf& prev) {
  ngx_conf_merge_ptr_value(conf->trusted_certificates, prev.trusted_certificates, nullptr);
  ngx_conf_merge_ptr_value(conf->crls, prev.crls, nullptr);
  ngx_conf_merge_value(conf->revocation, prev.revocation, 1);
  ngx_conf_merge_value(conf->allow_expired_crl, prev.allow_expired_crl, 0);
  ngx_conf_merge_uint_value(conf->environment, prev.environment,
                            static_cast<ngx_uint_t>(Environment::kAny));
}

// Byte for byte, so that every field of TrustConf takes part, present and
// future (an inherited array is the parent's pointer). The assertion keeps
// the comparison exact: no padding bytes, no floating point.
static_assert(std::has_unique_object_representations_v<TrustConf>,
              "TrustConf is compared byte for byte: keep it to pointers and integers");
bool SameTrust(const TrustConf& a, const TrustConf& b) {
  const auto* x = reinterpret_cast<const unsigned char*>(&a);
  const auto* y = reinterpret_cast<const unsigned char*>(&b);
  return std::equal(x, x + sizeof(TrustConf), y);
}

char* MergeLocConf(ngx_conf_t* cf, void* parent, void* child) {
  auto* prev = static_cast<LocConf*>(parent);
  auto* conf = static_cast<LocConf*>(child);

  ngx_conf_merge_value(conf->verify, prev->verify, 0);
  MergeTrustConf(&conf->trust_conf, prev->trust_conf);
  if (conf->verify_destination == nullptr) conf->verify_destination = prev->verify_destination;
  ngx_conf_merge_msec_value(conf->window, prev->window, 300000);
  if (conf->replay == NGX_CONF_UNSET) conf->replay_zone = prev->replay_zone;
  ngx_conf_merge_value(conf->replay, prev->replay, 0);
  ngx_conf_merge_uint_value(conf->replay_size, prev->replay_size, 100000);
  ngx_conf_merge_uint_value(conf->cache_size, prev->cache_size, 1024);
  ngx_conf_merge_ptr_value(conf->allow_subjects, prev->allow_subjects, nullptr);
  ngx_conf_merge_ptr_value(conf->allow_organizations, prev->allow_organizations, nullptr);
  ngx_conf_merge_ptr_value(conf->allow_fingerprints, prev->allow_fingerprints, nullptr);
  ngx_conf_merge_off_value(conf->max_body, prev->max_body, 1024 * 1024);
  ngx_conf_merge_uint_value(conf->reject_status, prev->reject_status, NGX_HTTP_UNAUTHORIZED);
  ngx_conf_merge_uint_value(conf->unavailable_status, prev->unavailable_status,
                            NGX_HTTP_SERVICE_UNAVAILABLE);
  ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 60);
  ngx_conf_merge_str_value(conf->participant_id, prev->participant_id, "");
  ngx_conf_merge_str_value(conf->schemas_path, prev->schemas_path, "");
  if (conf->channel == nullptr) conf->channel = prev->channel;
  ngx_conf_merge_ptr_value(conf->sign, prev->sign, nullptr);
  if (conf->sign_destination == nullptr) conf->sign_destination = prev->sign_destination;
  if (conf->api_key == nullptr) conf->api_key = prev->api_key;

  if (conf->verify && conf->sign != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"dip_verify\" and \"dip_sign\" cannot both be on in one location: "
                       "verify inbound webhooks and sign outbound requests in separate locations");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (conf->sign != nullptr) {
    auto* mcf =
        static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_dip_module));
    if (RecordSigningUpstream(cf, mcf) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (!conf->verify) return NGX_CONF_OK;
  if (CheckReplayZone(cf, conf->replay_zone) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);
  if (conf->replay_zone != nullptr) {
    conf->replay_store = ReplayStoreFor(cf->pool, conf->replay_zone);
    if (conf->replay_store == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (LoadSchemas(cf, conf) != NGX_OK) return static_cast<char*>(NGX_CONF_ERROR);

  if (conf->trust_conf.trusted_certificates == nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"dip_verify\" is on but no \"dip_verify_trusted_certificate\" is set "
                       "(the system trust store is never used)");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  if (conf->trust_conf.revocation && conf->trust_conf.crls == nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"dip_verify\" is on but no \"dip_verify_crl\" is set; revocation "
                       "checking fails closed (set \"dip_verify_revocation off\" to run "
                       "without CRLs)");
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  // Share the parent's trust store when nothing about trust changed here.
  if (prev->trust != nullptr && SameTrust(prev->trust_conf, conf->trust_conf)) {
    conf->trust = prev->trust;
    return NGX_CONF_OK;
  }
  TrustOptions o;
  o.ca_files = ToStrings(conf->trust_conf.trusted_certificates);
  o.crl_files = ToStrings(conf->trust_conf.crls);
  o.revocation = conf->trust_conf.revocation ? Revocation::kRequireCrl : Revocation::kOff;
  o.allow_expired_crl = conf->trust_conf.allow_expired_crl;
  o.environment = static_cast<Environment>(conf->trust_conf.environment);
  for (const std::string& relaxed : RelaxedChecks(o)) {
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "%s%s", kVerifyLog, relaxed.c_str());
  }
  auto trust = TrustStore::Create(std::move(o));
  if (!trust) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"dip_verify_trusted_certificate\"/\"dip_verify_crl\": %s",
                       trust.error().detail.c_str());
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  conf->trust = PoolOwned<std::shared_ptr<TrustStore>>(cf->pool, std::move(*trust));
  if (conf->trust == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
  auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_dip_module));
  mcf->trust_stores->push_back(*conf->trust);
  return NGX_CONF_OK;
}

char* CheckRejectStatus(ngx_conf_t* cf, void* /*post*/, void* data) {
  auto* status = static_cast<ngx_uint_t*>(data);
  if (*status < 400 || *status > 599) {
    auto* args = static_cast<ngx_str_t*>(cf->args->elts);
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" must be between 400 and 599", &args[0]);
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  return NGX_CONF_OK;
}

// dip_verify_schemas DIR: loaded once per directory, at configuration time
// (a missing or broken directory fails nginx -t, naming the file).
ngx_int_t LoadSchemas(ngx_conf_t* cf, LocConf* conf) {
  if (conf->schemas_path.len == 0) return NGX_OK;
  auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_dip_module));
  std::string path = ToStd(conf->schemas_path);
  auto it = mcf->schema_sets->find(path);
  if (it == mcf->schema_sets->end()) {
    auto set = dip::SchemaSet::Load(path);
    if (!set) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"dip_verify_schemas\": %s",
                         set.error().detail.c_str());
      return NGX_ERROR;
    }
    it = mcf->schema_sets->emplace(path, *set).first;
  }
  conf->schemas = &it->second;
  return NGX_OK;
}

// The stock enum setter's message does not name the directive.
char* SetEnvironment(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* field = reinterpret_cast<ngx_uint_t*>(static_cast<char*>(conf) + cmd->offset);
  if (*field != NGX_CONF_UNSET_UINT) return const_cast<char*>("is duplicate");
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  for (ngx_conf_enum_t* e = kEnvironments; e->name.len != 0; ++e) {
    if (e->name.len == args[1].len && ngx_strcmp(e->name.data, args[1].data) == 0) {
      *field = e->value;
      return NGX_CONF_OK;
    }
  }
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                     "\"dip_verify_environment\" must be prod, nonprod or any, not \"%V\"",
                     &args[1]);
  return static_cast<char*>(NGX_CONF_ERROR);
}

// dip_sign_identity NAME certificate=PATH key=PATH [passphrase_file=PATH];
// dip_sign_identity NAME pkcs12=PATH passphrase_file=PATH;
char* SetIdentity(ngx_conf_t* cf, ngx_command_t* /*cmd*/, void* conf) {
  auto* mcf = static_cast<MainConf*>(conf);
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  KeySource src;
  src.name = ToStd(args[1]);
  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
    std::string arg = ToStd(args[i]);
    size_t eq = arg.find('=');
    std::string key = arg.substr(0, eq), value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    std::string* field = key == "certificate" ? &src.certificate_file
                         : key == "key" ? &src.key_file
                         : key == "pkcs12" ? &src.pkcs12_file
                         : key == "passphrase_file" ? &src.passphrase_file
                                                    : nullptr;
    if (field == nullptr || value.empty()) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"dip_sign_identity\": unknown or empty parameter \"%V\" (use "
                         "certificate=, key=, pkcs12=, passphrase_file=)",
                         &args[i]);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
    *field = value;
  }
  auto id = LoadIdentity(src);
  if (!id) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"dip_sign_identity\" \"%V\": %s", &args[1],
                       id.error().detail.c_str());
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  for (const auto& w : (*id)->warnings) {
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "\"dip_sign_identity\" \"%V\": %s", &args[1],
                       w.c_str());
  }
  int64_t days = DaysToExpiry((*id)->info.not_after, WallClockMillis());
  if (days < kExpiryWarningDays) {
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "\"dip_sign_identity\" \"%V\": certificate expires in %d days; renew it",
                       &args[1], static_cast<int>(days));
  }
  auto added = mcf->identities->Add(*id);
  if (!added) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"dip_sign_identity\": %s",
                       added.error().detail.c_str());
    return static_cast<char*>(NGX_CONF_ERROR);
  }
  return NGX_CONF_OK;
}

// dip_sign off | NAME | $variable;
char* SetSign(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->sign != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  if (ngx_strcmp(args[1].data, "off") == 0) {
    lcf->sign = nullptr;
    return NGX_CONF_OK;
  }
  // A literal name must already be defined (dip_sign_identity comes first
  // in the http block); a variable is resolved per request.
  if (ngx_http_script_variables_count(&args[1]) == 0) {
    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_dip_module));
    if (mcf->identities->Find(ToStd(args[1])) == nullptr) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"dip_sign\": no \"dip_sign_identity\" named \"%V\" is defined before "
                         "this point",
                         &args[1]);
      return static_cast<char*>(NGX_CONF_ERROR);
    }
  }
  lcf->sign = nullptr;
  return ngx_http_set_complex_value_slot(cf, cmd, conf);
}

ngx_int_t PreConfiguration(ngx_conf_t* cf) { return AddVariables(cf); }

ngx_int_t PostConfiguration(ngx_conf_t* cf) {
  auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(
      ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
  for (ngx_http_handler_pt handler :
       {GuardedHandler<VerifyAccessHandler>, GuardedHandler<SignAccessHandler>}) {
    auto* h = static_cast<ngx_http_handler_pt*>(
        ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers));
    if (h == nullptr) return NGX_ERROR;
    *h = handler;
  }
  next_request_body_filter = ngx_http_top_request_body_filter;
  ngx_http_top_request_body_filter = RequestBodyFilter;

  auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_dip_module));
  ngx_str_t proxy_host = ngx_string("proxy_host");
  mcf->proxy_host_index = ngx_http_get_variable_index(cf, &proxy_host);
  if (mcf->proxy_host_index == NGX_ERROR) return NGX_ERROR;
  if (MetricsPostConfiguration(cf, mcf) != NGX_OK) return NGX_ERROR;
  return SignPostConfiguration(cf, mcf);
}

}  // namespace
}  // namespace dipgate::nginx
