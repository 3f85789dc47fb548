// Variables describing the verification result and the signer, for
// proxy_set_header, log_format and if:
//   $dip_verify_status     reason word ("ok", "signature_mismatch", ...), empty if not verified
//   $dip_verify_header     the header that failed
//   $dip_signer_subject, $dip_signer_organization, $dip_signer_fingerprint,
//   $dip_signer_environment, $dip_signer_days_to_expiry, $dip_signature_date
//   $dip_sign_status       "ok" once the proxied request was signed, else why not
//   $dip_sign_identity     the identity used
//   $dip_sign_days_to_expiry  days until that identity's certificate expires
//                          (for alerts at 90/60/30/1 days, CoCo 6.1.5)
#include "nginx_module/ngx_dip.h"

namespace dipgate::nginx {
namespace {

enum Field : uintptr_t {
  kVerifyStatus,
  kVerifyHeader,
  kSubject,
  kOrganization,
  kFingerprint,
  kEnvironment,
  kDaysToExpiry,
  kSignatureDate,
  kSignStatus,
  kSignIdentity,
  kSignDaysToExpiry,
};

std::string DaysLeft(const CertificateInfo& info) {
  return std::to_string(DaysToExpiry(info.not_after, WallClockMillis()));
}

ngx_int_t SetValue(ngx_http_request_t* r, ngx_http_variable_value_t* v, std::string_view s) {
  ngx_str_t copy = CopyToPool(r->pool, s);
  if (copy.data == nullptr) return NGX_ERROR;
  v->data = copy.data;
  v->len = copy.len;
  v->valid = 1;
  v->no_cacheable = 0;
  v->not_found = 0;
  return NGX_OK;
}

ngx_int_t Get(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  RequestCtx* ctx = GetCtx(r, false);
  v->not_found = 1;
  if (ctx == nullptr) return NGX_OK;
  switch (static_cast<Field>(data)) {
    case kSignStatus:
      return ctx->sign_status ? SetValue(r, v, *ctx->sign_status) : NGX_OK;
    case kSignIdentity:
      return ctx->sign_identity ? SetValue(r, v, *ctx->sign_identity) : NGX_OK;
    case kSignDaysToExpiry: {
      auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_dip_module));
      auto identity = ctx->sign_identity && mcf->identities
                          ? mcf->identities->Find(*ctx->sign_identity)
                          : nullptr;
      return identity ? SetValue(r, v, DaysLeft(identity->info)) : NGX_OK;
    }
    default:
      break;
  }
  const Verdict* verdict = ctx->verdict;
  if (verdict == nullptr) return NGX_OK;
  const CertificateInfo* info = verdict->signer.get();
  switch (static_cast<Field>(data)) {
    case kVerifyStatus:
      return SetValue(r, v, ToString(verdict->reason));
    case kVerifyHeader:
      return SetValue(r, v, verdict->header);
    case kSignatureDate:
      return verdict->signature_date ? SetValue(r, v, FormatSignatureDate(verdict->signature_date))
                                     : NGX_OK;
    default:
      break;
  }
  if (info == nullptr) return NGX_OK;
  switch (static_cast<Field>(data)) {
    case kSubject: return SetValue(r, v, info->subject);
    case kOrganization: return SetValue(r, v, info->organization);
    case kFingerprint: return SetValue(r, v, info->fingerprint);
    case kEnvironment: return SetValue(r, v, ToString(info->environment));
    case kDaysToExpiry: return SetValue(r, v, DaysLeft(*info));
    default: return NGX_OK;
  }
}

ngx_int_t GuardedGet(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  return Guard<ngx_int_t>(r->connection->log, "variable", NGX_ERROR, [&] {
    InjectFault(r, "variable");
    return Get(r, v, data);
  });
}

struct Definition {
  ngx_str_t name;
  Field field;
};

Definition kVariables[] = {
    {ngx_string("dip_verify_status"), kVerifyStatus},
    {ngx_string("dip_verify_header"), kVerifyHeader},
    {ngx_string("dip_signer_subject"), kSubject},
    {ngx_string("dip_signer_organization"), kOrganization},
    {ngx_string("dip_signer_fingerprint"), kFingerprint},
    {ngx_string("dip_signer_environment"), kEnvironment},
    {ngx_string("dip_signer_days_to_expiry"), kDaysToExpiry},
    {ngx_string("dip_signature_date"), kSignatureDate},
    {ngx_string("dip_sign_status"), kSignStatus},
    {ngx_string("dip_sign_days_to_expiry"), kSignDaysToExpiry},
    {ngx_string("dip_sign_identity"), kSignIdentity},
};

}  // namespace

ngx_int_t AddVariables(ngx_conf_t* cf) {
  for (Definition& d : kVariables) {
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &d.name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == nullptr) return NGX_ERROR;
    var->get_handler = GuardedGet;
    var->data = d.field;
  }
  return NGX_OK;
}

}  // namespace dipgate::nginx
