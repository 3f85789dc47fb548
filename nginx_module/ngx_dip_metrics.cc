// Metrics of dip_verify and dip_sign for Prometheus, the way stub_status and
// the VTS module keep theirs: counters in a shared memory zone that every
// worker adds to with atomic adds and that outlives `nginx -s reload`,
// served in the Prometheus text format by a location the operator protects.
//
//   http {
//     dip_metrics_zone dipmetrics:1m;
//     server { location = /metrics { dip_metrics; allow 10.0.0.0/8; deny all; } }
//   }
//
// Counted: each dip_verify verdict by reason word, its time (a histogram),
// the status each dip_verify location answered, schema refusals, and each
// dip_sign request by identity, signed or why not. Read at each scrape from
// the configuration in use: when every signing identity's and trusted CA's
// certificate expires, every CRL's seconds to nextUpdate and when it was
// loaded.
#include <cmath>
#include <set>
#include <string>

#include "nginx_module/ngx_dip.h"

namespace dipgate::nginx {
namespace {

constexpr size_t kReasons = static_cast<size_t>(Reason::kInternalError) + 1;
constexpr size_t kStatuses = 600;  // answers by HTTP status, 0..599
constexpr size_t kIdentities = 64;
constexpr size_t kNameMax = 64;
// Seconds. A verification is CPU work: tens of microseconds with a cached
// certificate, about a millisecond for a new one.
constexpr double kBuckets[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                               0.005,   0.01,   0.025,   0.05,   0.1};
constexpr size_t kBucketCount = sizeof(kBuckets) / sizeof(kBuckets[0]);
constexpr const char* kSignFailures[] = {"unknown_identity", "body_not_buffered",
                                         "no_upstream_url", "bad_upstream_request",
                                         "signing_failed"};
constexpr size_t kSignFailureCount = sizeof(kSignFailures) / sizeof(kSignFailures[0]);
static_assert(kSignFailureCount == static_cast<size_t>(SignFailure::kSigningFailed) + 1,
              "one word per SignFailure");

struct IdentitySlot {
  char name[kNameMax];  // NUL-terminated; empty: free. Written once, under the mutex.
  ngx_atomic_t signed_ok;
  ngx_atomic_t failed[kSignFailureCount];
};

struct MetricsShared {
  size_t layout;  // sizeof(MetricsShared) of the module that made the zone
  ngx_atomic_t verify[kReasons];
  ngx_atomic_t answers[kStatuses];
  ngx_atomic_t schema_refusals;
  ngx_atomic_t verify_buckets[kBucketCount + 1];  // per bucket, the last for +Inf
  ngx_atomic_t verify_count;
  ngx_atomic_t verify_sum_ns;
  IdentitySlot identities[kIdentities];
};

struct MetricsZone {
  MetricsShared* sh;
  ngx_slab_pool_t* shpool;
};

MetricsShared* Shared(ngx_http_request_t* r) {
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
  if (mcf == nullptr || mcf->metrics_zone == nullptr) return nullptr;
  return static_cast<MetricsZone*>(mcf->metrics_zone->data)->sh;
}

void Add(ngx_atomic_t* counter, ngx_atomic_int_t n = 1) { ngx_atomic_fetch_add(counter, n); }

ngx_int_t InitZone(ngx_shm_zone_t* shm_zone, void* data) {
  auto* z = static_cast<MetricsZone*>(shm_zone->data);
  if (data != nullptr) {  // reload: the counters go on
    auto* old = static_cast<MetricsZone*>(data);
    if (old->sh->layout == sizeof(MetricsShared)) {
      *z = *old;
      return NGX_OK;
    }
  }
  z->shpool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  if (shm_zone->shm.exists && data == nullptr) {
    z->sh = static_cast<MetricsShared*>(z->shpool->data);
    return NGX_OK;
  }
  z->sh = static_cast<MetricsShared*>(ngx_slab_calloc(z->shpool, sizeof(MetricsShared)));
  if (z->sh == nullptr) return NGX_ERROR;
  z->sh->layout = sizeof(MetricsShared);
  z->shpool->data = z->sh;
  return NGX_OK;
}

// The slot of `identity`, claimed on first use; nullptr when all are taken.
IdentitySlot* SlotOf(ngx_http_request_t* r, std::string_view identity) {
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
  auto* z = static_cast<MetricsZone*>(mcf->metrics_zone->data);
  if (identity.empty() || identity.size() >= kNameMax) return nullptr;
  auto matches = [&](const IdentitySlot& s) {
    return ngx_strncmp(s.name, identity.data(), identity.size()) == 0 &&
           s.name[identity.size()] == '\0';
  };
  for (IdentitySlot& s : z->sh->identities) {
    if (s.name[0] == '\0') break;  // slots are claimed in order
    if (matches(s)) return &s;
  }
  IdentitySlot* out = nullptr;
  ngx_shmtx_lock(&z->shpool->mutex);
  for (IdentitySlot& s : z->sh->identities) {
    if (s.name[0] == '\0') {
      ngx_memcpy(s.name + 1, identity.data() + 1, identity.size() - 1);
      s.name[identity.size()] = '\0';
      ngx_memory_barrier();
      s.name[0] = identity[0];  // claimed once the whole name is there
      out = &s;
      break;
    }
    if (matches(s)) {
      out = &s;
      break;
    }
  }
  ngx_shmtx_unlock(&z->shpool->mutex);
  return out;
}

// ---- the text format

// A label value: backslash, double quote and newline escaped.
std::string Label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Family(std::string* o, const char* name, const char* type, const char* help) {
  *o += "# HELP ";
  *o += name;
  *o += ' ';
  *o += help;
  *o += "\n# TYPE ";
  *o += name;
  *o += ' ';
  *o += type;
  *o += '\n';
}

void Sample(std::string* o, const char* name, const std::string& labels, double value) {
  *o += name;
  if (!labels.empty()) *o += "{" + labels + "}";
  char number[64];
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    snprintf(number, sizeof(number), " %lld\n", static_cast<long long>(value));
  } else {
    snprintf(number, sizeof(number), " %.9g\n", value);
  }
  *o += number;
}

std::string Render(MainConf* mcf, UnixMillis now) {
  const MetricsShared& sh = *static_cast<MetricsZone*>(mcf->metrics_zone->data)->sh;
  std::string o;
  o.reserve(8192);
  Family(&o, "dipgate_nginx_verify_total", "counter",
         "dip_verify verdicts by reason word (ok: accepted).");
  // Every reason and the usual statuses even at 0: a series that appears
  // only with its first count hides that count from increase().
  for (size_t i = 0; i < kReasons; ++i) {
    Sample(&o, "dipgate_nginx_verify_total",
           "reason=\"" + std::string(ToString(static_cast<Reason>(i))) + "\"",
           static_cast<double>(sh.verify[i]));
  }
  Family(&o, "dipgate_nginx_replays_total", "counter",
         "Webhooks refused as a replay of a signature already accepted.");
  Sample(&o, "dipgate_nginx_replays_total", "",
         static_cast<double>(sh.verify[static_cast<size_t>(Reason::kReplayed)]));
  Family(&o, "dipgate_nginx_schema_refusals_total", "counter",
         "Webhooks refused by dip_verify_schemas (400).");
  Sample(&o, "dipgate_nginx_schema_refusals_total", "", static_cast<double>(sh.schema_refusals));
  Family(&o, "dipgate_nginx_answers_total", "counter",
         "Answers of dip_verify locations by HTTP status (the upstream's or nginx's own).");
  for (size_t i = 0; i < kStatuses; ++i) {
    bool usual = i == 200 || i == 201 || i == 400 || i == 401 || i == 503;
    if (sh.answers[i] == 0 && !usual) continue;
    Sample(&o, "dipgate_nginx_answers_total", "status=\"" + std::to_string(i) + "\"",
           static_cast<double>(sh.answers[i]));
  }
  Family(&o, "dipgate_nginx_verify_seconds", "histogram",
         "Time dip_verify spent verifying a webhook (signature, certificate, schema).");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBucketCount; ++i) {
    cumulative += sh.verify_buckets[i];
    char le[32];
    if (i < kBucketCount) snprintf(le, sizeof(le), "%g", kBuckets[i]);
    Sample(&o, "dipgate_nginx_verify_seconds_bucket",
           std::string("le=\"") + (i < kBucketCount ? le : "+Inf") + "\"",
           static_cast<double>(cumulative));
  }
  Sample(&o, "dipgate_nginx_verify_seconds_sum", "", static_cast<double>(sh.verify_sum_ns) / 1e9);
  Sample(&o, "dipgate_nginx_verify_seconds_count", "", static_cast<double>(sh.verify_count));
  Family(&o, "dipgate_nginx_sign_total", "counter",
         "dip_sign requests by identity: signed (reason ok) or why not.");
  std::set<std::string> counted;
  for (const IdentitySlot& s : sh.identities) {
    if (s.name[0] == '\0') break;
    counted.insert(s.name);
    std::string id = "identity=\"" + Label(s.name) + "\",reason=\"";
    Sample(&o, "dipgate_nginx_sign_total", id + "ok\"", static_cast<double>(s.signed_ok));
    for (size_t f = 0; f < kSignFailureCount; ++f) {
      if (s.failed[f] == 0) continue;
      Sample(&o, "dipgate_nginx_sign_total", id + kSignFailures[f] + "\"",
             static_cast<double>(s.failed[f]));
    }
  }

  // The configured identities not used yet, at 0 (a series that appears
  // only with its first count hides that count from increase()).
  for (const std::string& name : mcf->identities->names()) {
    if (counted.count(name) == 0) {
      Sample(&o, "dipgate_nginx_sign_total", "identity=\"" + Label(name) + "\",reason=\"ok\"", 0);
    }
  }

  // From the configuration in use in this worker.
  // A timestamp, as Prometheus prefers (promtool's lint wants base units):
  // days left are (this - time()) / 86400.
  Family(&o, "dipgate_nginx_certificate_expiry_timestamp_seconds", "gauge",
         "When a certificate expires (Unix time): signing identities (role signing) and the "
         "CAs dip_verify trusts (role trust).");
  for (const std::string& name : mcf->identities->names()) {
    auto id = mcf->identities->Find(name);
    Sample(&o, "dipgate_nginx_certificate_expiry_timestamp_seconds",
           "role=\"signing\",name=\"" + Label(name) + "\"",
           static_cast<double>(id->info.not_after / 1000));
  }
  std::set<std::string> seen;
  std::string crls, loaded;
  for (const auto& store : *mcf->trust_stores) {
    TrustStatus status = store->Status();
    for (const auto& ca : status.cas) {
      if (!seen.insert("ca " + ca.subject).second) continue;
      Sample(&o, "dipgate_nginx_certificate_expiry_timestamp_seconds",
             "role=\"trust\",name=\"" + Label(ca.subject) + "\"",
             static_cast<double>(ca.not_after / 1000));
    }
    for (const auto& crl : status.crls) {
      if (!seen.insert("crl " + crl.issuer).second) continue;
      std::string labels = "issuer=\"" + Label(crl.issuer) + "\"";
      double left = crl.next_update == INT64_MAX ? 1e9 : (crl.next_update - now) / 1000.0;
      Sample(&crls, "dipgate_nginx_crl_next_update_seconds", labels, std::round(left));
      Sample(&loaded, "dipgate_nginx_crl_loaded_timestamp_seconds", labels,
             static_cast<double>(status.loaded_at / 1000));
    }
  }
  Family(&o, "dipgate_nginx_crl_next_update_seconds", "gauge",
         "Seconds until a CRL's nextUpdate (negative: stale; dip_verify then answers 503).");
  o += crls;
  Family(&o, "dipgate_nginx_crl_loaded_timestamp_seconds", "gauge",
         "When the CRL files in use were loaded (Unix time).");
  o += loaded;
  return o;
}

ngx_int_t MetricsHandler(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
  std::string text = Render(mcf, WallClockMillis());
  r->headers_out.status = NGX_HTTP_OK;
  ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4; charset=utf-8");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  return SendWholeBody(r, text);
}

// Log phase: the status each dip_verify location answered.
ngx_int_t LogHandler(ngx_http_request_t* r) {
  auto* lcf = static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_dip_module));
  if (!lcf->verify || r != r->main) return NGX_OK;
  MetricsShared* sh = Shared(r);
  if (sh == nullptr) return NGX_OK;
  ngx_uint_t status = r->err_status ? r->err_status : r->headers_out.status;
  if (status < kStatuses) Add(&sh->answers[status]);
  return NGX_OK;
}

}  // namespace

void CountVerdict(ngx_http_request_t* r, const Verdict& v, bool schema_refused,
                  int64_t elapsed_ns) {
  MetricsShared* sh = Shared(r);
  if (sh == nullptr) return;
  auto reason = static_cast<size_t>(v.reason);
  if (reason < kReasons) Add(&sh->verify[reason]);
  if (schema_refused) Add(&sh->schema_refusals);
  double seconds = static_cast<double>(elapsed_ns) / 1e9;
  size_t bucket = 0;
  while (bucket < kBucketCount && seconds > kBuckets[bucket]) ++bucket;
  Add(&sh->verify_buckets[bucket]);
  Add(&sh->verify_count);
  Add(&sh->verify_sum_ns, static_cast<ngx_atomic_int_t>(elapsed_ns));
}

void CountSign(ngx_http_request_t* r, std::string_view identity, std::optional<SignFailure> failure) {
  if (Shared(r) == nullptr) return;
  // A name that is no configured identity counts as "-": names from a
  // request (dip_sign $variable) must not fill the zone's identity slots.
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
  IdentitySlot* slot = SlotOf(r, mcf->identities->Find(identity) != nullptr ? identity : "-");
  if (slot == nullptr) return;
  if (failure) {
    Add(&slot->failed[static_cast<size_t>(*failure)]);
  } else {
    Add(&slot->signed_ok);
  }
}

// dip_metrics_zone NAME:SIZE;
char* SetMetricsZone(ngx_conf_t* cf, ngx_command_t* /*cmd*/, void* conf) {
  auto* mcf = static_cast<MainConf*>(conf);
  if (mcf->metrics_zone != nullptr) return const_cast<char*>("is duplicate");
  mcf->metrics_zone = AddZone(cf, "dipmetrics:1m", 8 * ngx_pagesize + 2 * sizeof(MetricsShared),
                              InitZone, sizeof(MetricsZone));
  return mcf->metrics_zone == nullptr ? static_cast<char*>(NGX_CONF_ERROR) : NGX_CONF_OK;
}

// dip_metrics;
char* SetMetrics(ngx_conf_t* cf, ngx_command_t* /*cmd*/, void* /*conf*/) {
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  clcf->handler = GuardedHandler<MetricsHandler>;
  auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_dip_module));
  mcf->metrics_served = 1;
  return NGX_CONF_OK;
}

// At postconfiguration: dip_metrics needs the zone; the log handler counts
// answers.
ngx_int_t MetricsPostConfiguration(ngx_conf_t* cf, MainConf* mcf) {
  if (mcf->metrics_served && mcf->metrics_zone == nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"dip_metrics\" needs a \"dip_metrics_zone NAME:SIZE\" in the http block");
    return NGX_ERROR;
  }
  if (mcf->metrics_zone == nullptr) return NGX_OK;
  auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(
      ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
  auto* h = static_cast<ngx_http_handler_pt*>(
      ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = GuardedHandler<LogHandler>;
  return NGX_OK;
}

}  // namespace dipgate::nginx
