// How dip_verify answers a webhook it refuses: the way the DIP expects a
// webhook receiver to answer (SubmitEvents, pubconfig callback responses).
//
//   the sender's faults (signature, certificate, headers, schema):
//       dip_verify_reject_status (401; 400 for schema, 413 for size), which
//       the DIP does not retry, so a forged or broken message is not resent
//   our own faults (crl_expired, revocation_unknown, internal_error):
//       dip_verify_unavailable_status (503) with Retry-After, which the DIP
//       retries: a CRL refresh that failed over a weekend delays webhooks
//       instead of losing them
//
// The body is a StandardResponse with one entry per message of the array
// when the body parses as one (transactionID and the sender's references
// from each message), else one entry; `message` is the RCP code
// ("RCP9999 - Message Signature Invalid"), `help` says dipgate's reason
// word, header and why. dipgate's reason and header also appear as
// top-level "reason" and "header" members.
#include "common/dip/codes.h"
#include "common/dip/message.h"
#include "common/dip/response.h"
#include "common/json_text.h"
#include "nginx_module/ngx_dip.h"

#include <stdexcept>

namespace dipgate::nginx {
namespace {

ngx_uint_t StatusFor(LocConf* lcf, Reason reason) {
  if (IsOwnFault(reason)) return lcf->unavailable_status;
  if (reason == Reason::kBodyTooLarge) return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
  switch (reason) {
    case Reason::kInvalidJson:
    case Reason::kNotMessageArray:
    case Reason::kMissingEnvelope:
    case Reason::kUnknownInterface:
    case Reason::kChannelMismatch:
    case Reason::kUnknownEventCode:
    case Reason::kUnsupportedSchemaVersion:
    case Reason::kEnvironmentTagMismatch:
    case Reason::kBadSenderUniqueReference:
    case Reason::kSchemaInvalid:
      return NGX_HTTP_BAD_REQUEST;
    default:
      return lcf->reject_status;
  }
}

std::string Help(const Verdict& v) {
  std::string help = "dipgate: " + std::string(ToString(v.reason));
  if (!v.header.empty()) help += " (" + v.header + ")";
  if (!v.detail.empty()) help += ": " + v.detail;
  if (IsOwnFault(v.reason)) help += "; the receiver's own fault, retry later";
  return help.size() > 1000 ? help.substr(0, 997) + "..." : help;
}

std::string Body(ngx_http_request_t* r, LocConf* lcf, const Verdict& v,
                 const dip::SchemaVerdict* schema) {
  dip::StandardResponse answer;
  answer.timestamp = dip::BodyTimestamp(WallClockMillis());
  std::string_view code = dip::RecipientCodeFor(v.reason);
  std::string help = Help(v);
  std::string responder = ToStd(lcf->participant_id);
  size_t limit = lcf->max_body >= 0 ? static_cast<size_t>(lcf->max_body) : 1 << 20;
  Result<dip::MessageArray> messages = Error{Reason::kNotMessageArray, ""};
  if (v.reason != Reason::kBodyTooLarge) {
    if (auto body = ReadRequestBody(r, limit)) messages = dip::MessageArray::Parse(*body);
  }
  if (messages) {
    for (const dip::Message& m : messages->messages()) {
      if (schema != nullptr && m.index != schema->message) {
        // The array is refused whole: say so on the messages that were fine.
        answer.entries.push_back(dip::EntryFor(
            m.envelope, "RCP1000", responder,
            "not processed: message " + std::to_string(schema->message) +
                " of this array is invalid and the array is refused whole"));
      } else {
        answer.entries.push_back(dip::EntryFor(m.envelope, code, responder, help));
      }
    }
  } else {
    answer.entries.push_back(dip::EntryFor(dip::Envelope{}, code, responder, help));
  }
  std::string json = dip::ToJson(answer);
  json.pop_back();  // the closing brace: dipgate's own members follow
  json += ",\"reason\":" + JsonQuote(ToString(v.reason));
  if (!v.header.empty()) json += ",\"header\":" + JsonQuote(v.header);
  if (schema != nullptr && !schema->pointer.empty()) json += ",\"pointer\":" + JsonQuote(schema->pointer);
  return json + "}\n";
}

ngx_int_t AddHeader(ngx_http_request_t* r, const char* name, std::string_view value) {
  ngx_table_elt_t* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
  if (h == nullptr) return NGX_ERROR;
  h->hash = 1;
  h->key.data = reinterpret_cast<u_char*>(const_cast<char*>(name));
  h->key.len = ngx_strlen(name);
  h->value = CopyToPool(r->pool, value);
  return h->value.data == nullptr ? NGX_ERROR : NGX_OK;
}

}  // namespace

Result<std::string> ReadRequestBody(ngx_http_request_t* r, size_t limit) {
  std::string out;
  if (r->request_body == nullptr) return out;
  const Error too_large{Reason::kBodyTooLarge,
                        "the request body is larger than " + std::to_string(limit) + " bytes"};
  for (ngx_chain_t* cl = r->request_body->bufs; cl != nullptr; cl = cl->next) {
    ngx_buf_t* b = cl->buf;
    if (ngx_buf_in_memory(b)) {
      out.append(reinterpret_cast<const char*>(b->pos), static_cast<size_t>(b->last - b->pos));
    } else if (b->in_file && b->file != nullptr) {
      off_t size = b->file_last - b->file_pos;
      if (size < 0) return Error{Reason::kInternalError, "a request body buffer has a negative size"};
      if (out.size() + static_cast<size_t>(size) > limit) return too_large;
      size_t at = out.size();
      out.resize(at + static_cast<size_t>(size));
      ssize_t n = ngx_read_file(b->file, reinterpret_cast<u_char*>(&out[at]),
                                static_cast<size_t>(size), b->file_pos);
      if (n != size) {
        return Error{Reason::kInternalError, "cannot read the request body's temporary file"};
      }
    }
    if (out.size() > limit) return too_large;
  }
  return out;
}

ngx_int_t SendRefusal(ngx_http_request_t* r, LocConf* lcf, const Verdict& v,
                      const dip::SchemaVerdict* schema) {
  ngx_uint_t status = StatusFor(lcf, v.reason);
  std::string body = Body(r, lcf, v, schema);
  if (ngx_http_discard_request_body(r) != NGX_OK) r->keepalive = 0;
  r->headers_out.status = status;
  ngx_str_set(&r->headers_out.content_type, "application/json");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  if (AddHeader(r, "X-Dipgate-Reason", ToString(v.reason)) != NGX_OK) return NGX_ERROR;
  if (IsOwnFault(v.reason) && lcf->retry_after > 0 &&
      AddHeader(r, "Retry-After", std::to_string(lcf->retry_after)) != NGX_OK) {
    return NGX_ERROR;
  }
  return SendWholeBody(r, body);
}

ngx_int_t SendWholeBody(ngx_http_request_t* r, std::string_view body) {
  r->headers_out.content_length_n = static_cast<off_t>(body.size());
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

#ifdef DIPGATE_FAULT_INJECTION
void InjectFault(ngx_http_request_t* r, std::string_view point) {
  static ngx_str_t name = ngx_string("X-Dipgate-Fault");
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) {
      if (h[i].key.len == name.len && ngx_strncasecmp(h[i].key.data, name.data, name.len) == 0 &&
          ToStd(h[i].value) == point) {
        throw std::runtime_error("injected fault at " + std::string(point));
      }
    }
  }
}
#endif

}  // namespace dipgate::nginx
