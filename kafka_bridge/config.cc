#include "kafka_bridge/config.h"

#include <arpa/inet.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/files.h"

namespace dipgate::bridge {
namespace {

using rapidjson::Value;

class Reader {
 public:
  explicit Reader(std::string* error) : error_(error) {}

  bool Fail(const std::string& key, const std::string& why) {
    if (error_->empty()) *error_ = "config: " + key + ": " + why;
    return false;
  }
  bool String(const Value& obj, const char* name, const std::string& where, std::string* out,
              bool required) {
    auto it = obj.FindMember(name);
    std::string key = where + name;
    if (it == obj.MemberEnd()) return required ? Fail(key, "is required") : true;
    if (!it->value.IsString()) return Fail(key, "must be a string");
    out->assign(it->value.GetString(), it->value.GetStringLength());
    if (required && out->empty()) return Fail(key, "must not be empty");
    return true;
  }
  bool Int(const Value& obj, const char* name, const std::string& where, int64_t* out,
           int64_t min, int64_t max) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) return true;
    std::string key = where + name;
    if (!it->value.IsInt64()) return Fail(key, "must be an integer");
    int64_t v = it->value.GetInt64();
    if (v < min || v > max) {
      return Fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    *out = v;
    return true;
  }
  bool Bool(const Value& obj, const char* name, const std::string& where, bool* out) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) return true;
    if (!it->value.IsBool()) return Fail(where + name, "must be true or false");
    *out = it->value.GetBool();
    return true;
  }
  bool Known(const Value& obj, const std::string& where, std::initializer_list<const char*> keys) {
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
      bool known = false;
      for (const char* k : keys) known = known || strcmp(k, it->name.GetString()) == 0;
      if (!known) return Fail(where + it->name.GetString(), "is not a known key");
    }
    return true;
  }

 private:
  std::string* error_;
};

bool ReadablePath(Reader& rd, const std::string& key, const std::string& path) {
  if (path.empty()) return true;
  if (auto read = ReadWholeFile(path); !read) return rd.Fail(key, read.error().detail);
  return true;
}

bool Strings(Reader& rd, const Value& obj, const char* name, const std::string& where,
             std::vector<std::string>* out) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsArray()) return rd.Fail(where + name, "must be an array of strings");
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) return rd.Fail(where + name, "must be an array of strings");
    out->emplace_back(v.GetString(), v.GetStringLength());
    if (!ReadablePath(rd, where + name, out->back())) return false;
  }
  return true;
}

}  // namespace

bool IsLoopback(const in_addr& address) { return (ntohl(address.s_addr) >> 24) == 127; }

bool IsLoopbackListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr addr{};
  if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr) != 1) return false;
  return IsLoopback(addr);
}

namespace {

bool ParseInbound(Reader& rd, const Value& doc, InboundConfig* in) {
  auto it = doc.FindMember("inbound");
  if (it == doc.MemberEnd()) return true;
  const Value& v = it->value;
  const std::string w = "inbound.";
  if (!v.IsObject()) return rd.Fail("inbound", "must be an object");
  if (!rd.Known(v, w, {"listen", "topic", "key", "verified_header", "signer_header", "verify",
                       "tls", "participant_id", "schemas", "max_body", "duplicate_window_s",
                       "duplicate_capacity", "produce_timeout_ms", "retry_after_s",
                       "max_connections"}) ||
      !rd.String(v, "listen", w, &in->listen, true) || !rd.String(v, "topic", w, &in->topic, true) ||
      !rd.String(v, "key", w, &in->key_field, false) ||
      !rd.String(v, "verified_header", w, &in->verified_header, false) ||
      !rd.String(v, "signer_header", w, &in->signer_header, false) ||
      !rd.String(v, "participant_id", w, &in->participant_id, false) ||
      !rd.String(v, "schemas", w, &in->schemas, false) ||
      !rd.Int(v, "max_body", w, &in->max_body, 1024, 1 << 30) ||
      !rd.Int(v, "duplicate_window_s", w, &in->duplicate_window_s, 0, 30 * 86400) ||
      !rd.Int(v, "duplicate_capacity", w, &in->duplicate_capacity, 1, 100000000) ||
      !rd.Int(v, "produce_timeout_ms", w, &in->produce_timeout_ms, 1000, 600000) ||
      !rd.Int(v, "retry_after_s", w, &in->retry_after_s, 0, 86400) ||
      !rd.Int(v, "max_connections", w, &in->max_connections, 1, 10000)) {
    return false;
  }
  bool unix_socket = in->listen.rfind("unix:", 0) == 0;
  if (!unix_socket && in->listen.rfind(':') == std::string::npos) {
    return rd.Fail(w + "listen", "must be host:port or unix:/path");
  }
  if (in->key_field != "none" && in->key_field != "MPANCore" &&
      in->key_field != "transactionID" && in->key_field != "senderUniqueReference" &&
      in->key_field != "interfaceID") {
    return rd.Fail(w + "key", "must be MPANCore, transactionID, senderUniqueReference, "
                              "interfaceID or none");
  }
  auto verify = v.FindMember("verify");
  if (verify != v.MemberEnd()) {
    const Value& vv = verify->value;
    const std::string wv = w + "verify.";
    if (!vv.IsObject()) return rd.Fail(w + "verify", "must be an object");
    if (!rd.Known(vv, wv, {"ca", "crl", "environment", "destination_header"}) ||
        !Strings(rd, vv, "ca", wv, &in->verify_ca) || !Strings(rd, vv, "crl", wv, &in->verify_crl) ||
        !rd.String(vv, "environment", wv, &in->verify_environment, false) ||
        !rd.String(vv, "destination_header", wv, &in->destination_header, false)) {
      return false;
    }
    if (in->verify_ca.empty()) return rd.Fail(wv + "ca", "is required (the DIP CA bundle)");
    if (in->verify_environment != "prod" && in->verify_environment != "nonprod" &&
        in->verify_environment != "any") {
      return rd.Fail(wv + "environment", "must be prod, nonprod or any");
    }
  }
  auto tls = v.FindMember("tls");
  if (tls != v.MemberEnd()) {
    const Value& tv = tls->value;
    const std::string wt = w + "tls.";
    if (!tv.IsObject()) return rd.Fail(w + "tls", "must be an object");
    if (unix_socket) return rd.Fail(w + "tls", "is for a TCP listener, not a unix socket");
    if (!rd.Known(tv, wt, {"certificate", "key", "client_ca"}) ||
        !rd.String(tv, "certificate", wt, &in->tls_certificate, true) ||
        !rd.String(tv, "key", wt, &in->tls_key, true) ||
        !rd.String(tv, "client_ca", wt, &in->tls_client_ca, false) ||
        !ReadablePath(rd, wt + "certificate", in->tls_certificate) ||
        !ReadablePath(rd, wt + "key", in->tls_key) ||
        (!in->tls_client_ca.empty() && !ReadablePath(rd, wt + "client_ca", in->tls_client_ca))) {
      return false;
    }
  }
  if (in->verified_header.empty() && in->verify_ca.empty()) {
    return rd.Fail(w + "verified_header", "may be empty only when inbound.verify checks the "
                                          "signatures here");
  }
  // A header is not proof of who sent it: a listener other hosts can reach
  // takes it only from a peer it authenticated.
  if (!unix_socket && !IsLoopbackListen(in->listen) && in->verify_ca.empty() &&
      in->tls_client_ca.empty()) {
    return rd.Fail(w + "listen",
                   "'" + in->listen + "' can be reached from other hosts, and nothing there "
                   "authenticates the sender: anyone who can connect could send \"" +
                       in->verified_header + ": ok\" and have its messages produced as verified "
                       "DIP messages. Listen on 127.0.0.1 or a unix: socket behind nginx on this "
                       "host, or authenticate the hop: inbound.tls.client_ca (mutual TLS from "
                       "nginx) or inbound.verify (the bridge checks the X-DIP signatures itself)");
  }
  in->enabled = true;
  return true;
}

// The keys of outbound delivery (Kafka -> DIP).
constexpr const char* kOutboundKeys[] = {
    "routes", "identities", "tls", "api_key", "retry", "dead_letter_topic", "dip_base_url",
    "receipts_topic", "schemas", "batch", "ordering", "max_in_flight", "max_buffered_messages",
    "signing_threads", "max_connections", "expect_continue_bytes"};

// A bridge that only receives webhooks: the outbound keys have no meaning.
bool NoOutboundKeys(Reader& rd, const Value& doc) {
  for (const char* key : kOutboundKeys) {
    if (doc.HasMember(key)) {
      return rd.Fail(key, "belongs to outbound delivery, which needs routes and identities");
    }
  }
  return true;
}

bool ParseKafka(Reader& rd, const Value& doc, Config* c) {
  auto kafka = doc.FindMember("kafka");
  if (kafka == doc.MemberEnd() || !kafka->value.IsObject()) {
    return rd.Fail("kafka", "is required: an object of librdkafka properties");
  }
  for (auto it = kafka->value.MemberBegin(); it != kafka->value.MemberEnd(); ++it) {
    std::string key = std::string("kafka.") + it->name.GetString();
    if (it->value.IsString()) {
      c->kafka[it->name.GetString()] = it->value.GetString();
    } else if (it->value.IsInt64() || it->value.IsBool()) {
      c->kafka[it->name.GetString()] =
          it->value.IsBool() ? (it->value.GetBool() ? "true" : "false")
                             : std::to_string(it->value.GetInt64());
    } else {
      return rd.Fail(key, "must be a string, number or boolean");
    }
  }
  if (c->kafka.count("bootstrap.servers") == 0) return rd.Fail("kafka.bootstrap.servers", "is required");
  for (const char* owned : {"enable.auto.commit", "enable.auto.offset.store"}) {
    if (c->kafka.count(owned) != 0) {
      return rd.Fail(std::string("kafka.") + owned,
                     "is managed by the bridge (offsets are committed only after delivery)");
    }
  }
  return true;
}

bool ParseIdentities(Reader& rd, const Value& doc, Config* c) {
  auto identities = doc.FindMember("identities");
  if (identities == doc.MemberEnd() || !identities->value.IsArray() ||
      identities->value.Empty()) {
    return rd.Fail("identities", "is required: a non-empty array of signing identities");
  }
  for (rapidjson::SizeType i = 0; i < identities->value.Size(); ++i) {
    const Value& v = identities->value[i];
    std::string where = "identities[" + std::to_string(i) + "].";
    if (!v.IsObject()) return rd.Fail(where.substr(0, where.size() - 1), "must be an object");
    if (!rd.Known(v, where, {"name", "certificate", "key", "pkcs12", "passphrase_file", "dip_ids"})) {
      return false;
    }
    IdentityConfig id;
    if (!rd.String(v, "name", where, &id.source.name, true) ||
        !rd.String(v, "certificate", where, &id.source.certificate_file, false) ||
        !rd.String(v, "key", where, &id.source.key_file, false) ||
        !rd.String(v, "pkcs12", where, &id.source.pkcs12_file, false) ||
        !rd.String(v, "passphrase_file", where, &id.source.passphrase_file, false)) {
      return false;
    }
    if (id.source.pkcs12_file.empty() &&
        (id.source.certificate_file.empty() || id.source.key_file.empty())) {
      return rd.Fail(where + "certificate", "give certificate and key, or pkcs12");
    }
    auto ids = v.FindMember("dip_ids");
    if (ids != v.MemberEnd()) {
      if (!ids->value.IsArray()) return rd.Fail(where + "dip_ids", "must be an array of strings");
      for (const auto& d : ids->value.GetArray()) {
        if (!d.IsString()) return rd.Fail(where + "dip_ids", "must be an array of strings");
        id.dip_ids.emplace_back(d.GetString(), d.GetStringLength());
      }
    }
    for (const auto& other : c->identities) {
      if (other.source.name == id.source.name) return rd.Fail(where + "name", "is defined twice");
    }
    c->identities.push_back(std::move(id));
  }
  return true;
}

bool ParseRoutes(Reader& rd, const Value& doc, Config* c) {
  if (!rd.String(doc, "dip_base_url", "", &c->dip_base_url, false)) return false;
  if (!c->dip_base_url.empty()) {
    if (c->dip_base_url.rfind("https://", 0) != 0) {
      return rd.Fail("dip_base_url", "must be an https:// URL");
    }
    while (!c->dip_base_url.empty() && c->dip_base_url.back() == '/') c->dip_base_url.pop_back();
  }
  auto routes = doc.FindMember("routes");
  if (routes == doc.MemberEnd() || !routes->value.IsArray() || routes->value.Empty()) {
    return rd.Fail("routes", "is required: a non-empty array of {topic, url}");
  }
  for (rapidjson::SizeType i = 0; i < routes->value.Size(); ++i) {
    const Value& v = routes->value[i];
    std::string where = "routes[" + std::to_string(i) + "].";
    if (!v.IsObject()) return rd.Fail(where.substr(0, where.size() - 1), "must be an object");
    if (!rd.Known(v, where, {"topic", "url", "identity"})) return false;
    Route r;
    if (!rd.String(v, "topic", where, &r.topic, true) ||
        !rd.String(v, "url", where, &r.url, false) ||
        !rd.String(v, "identity", where, &r.identity, false)) {
      return false;
    }
    if (r.url.empty()) {
      if (c->dip_base_url.empty()) {
        return rd.Fail(where + "url", "is required when there is no dip_base_url");
      }
      r.url = c->dip_base_url + "/dip-channel/{interfaceID}";
    }
    if (r.url.rfind("https://", 0) != 0) {
      return rd.Fail(where + "url", "must be an https:// URL");
    }
    if (!r.identity.empty()) {
      bool found = false;
      for (const auto& id : c->identities) found = found || id.source.name == r.identity;
      if (!found) return rd.Fail(where + "identity", "names no identity: " + r.identity);
    }
    for (const auto& other : c->routes) {
      if (other.topic == r.topic) return rd.Fail(where + "topic", "has a route already");
    }
    c->routes.push_back(std::move(r));
  }
  return true;
}

bool ParseTls(Reader& rd, const Value& doc, Config* c) {
  auto tls = doc.FindMember("tls");
  if (tls != doc.MemberEnd()) {
    if (!tls->value.IsObject()) return rd.Fail("tls", "must be an object");
    const Value& t = tls->value;
    if (!rd.Known(t, "tls.", {"client_certificate", "client_key", "client_key_passphrase_file",
                              "ca", "min_version"}) ||
        !rd.String(t, "client_certificate", "tls.", &c->client_certificate, false) ||
        !rd.String(t, "client_key", "tls.", &c->client_key, false) ||
        !rd.String(t, "client_key_passphrase_file", "tls.", &c->client_key_passphrase_file,
                   false) ||
        !rd.String(t, "ca", "tls.", &c->ca_file, false) ||
        !rd.String(t, "min_version", "tls.", &c->tls_min_version, false)) {
      return false;
    }
    if (c->tls_min_version != "1.2" && c->tls_min_version != "1.3") {
      return rd.Fail("tls.min_version", "must be \"1.2\" or \"1.3\" (CoCo 7)");
    }
    if (!ReadablePath(rd, "tls.client_certificate", c->client_certificate) ||
        !ReadablePath(rd, "tls.client_key", c->client_key) ||
        !ReadablePath(rd, "tls.client_key_passphrase_file", c->client_key_passphrase_file) ||
        !ReadablePath(rd, "tls.ca", c->ca_file)) {
      return false;
    }
  }
  if (c->ca_file.empty()) {  // every route is https
    return rd.Fail("tls.ca", "is required for https routes (the DIP CA; the system store is "
                             "never used)");
  }
  return rd.Bool(doc, "http2", "", &c->http2) &&
         rd.Int(doc, "expect_continue_bytes", "", &c->expect_continue_bytes, 0, 1 << 30);
}

bool ParseApiKey(Reader& rd, const Value& doc, Config* c) {
  auto api = doc.FindMember("api_key");
  if (api == doc.MemberEnd()) return true;
  if (!api->value.IsObject()) return rd.Fail("api_key", "must be an object");
  std::string primary_file, secondary_file;
  if (!rd.Known(api->value, "api_key.", {"primary", "secondary", "primary_file", "secondary_file"}) ||
      !rd.String(api->value, "primary", "api_key.", &c->api_key_primary, false) ||
      !rd.String(api->value, "secondary", "api_key.", &c->api_key_secondary, false) ||
      !rd.String(api->value, "primary_file", "api_key.", &primary_file, false) ||
      !rd.String(api->value, "secondary_file", "api_key.", &secondary_file, false)) {
    return false;
  }
  for (auto [file, key, name] : {std::tuple{&primary_file, &c->api_key_primary, "primary_file"},
                                 std::tuple{&secondary_file, &c->api_key_secondary, "secondary_file"}}) {
    if (file->empty()) continue;
    auto line = ReadFirstLine(*file);
    if (!line) return rd.Fail(std::string("api_key.") + name, line.error().detail);
    *key = std::move(*line);
  }
  return true;
}

bool ParseTimeoutsAndRetry(Reader& rd, const Value& doc, Config* c) {
  auto timeouts = doc.FindMember("timeouts");
  if (timeouts != doc.MemberEnd()) {
    if (!timeouts->value.IsObject()) return rd.Fail("timeouts", "must be an object");
    if (!rd.Known(timeouts->value, "timeouts.", {"connect_ms", "request_ms"}) ||
        !rd.Int(timeouts->value, "connect_ms", "timeouts.", &c->connect_timeout_ms, 100, 600000) ||
        !rd.Int(timeouts->value, "request_ms", "timeouts.", &c->request_timeout_ms, 100, 3600000)) {
      return false;
    }
  }
  auto retry = doc.FindMember("retry");
  if (retry == doc.MemberEnd()) return true;
  if (!retry->value.IsObject()) return rd.Fail("retry", "must be an object");
  int64_t attempts = c->retry.max_attempts;
  int64_t jitter_pct = static_cast<int64_t>(c->retry.jitter * 100);
  if (!rd.Known(retry->value, "retry.",
                {"initial_backoff_ms", "max_backoff_ms", "jitter_percent", "max_attempts"}) ||
      !rd.Int(retry->value, "initial_backoff_ms", "retry.", &c->retry.initial_backoff_ms, 1,
              3600000) ||
      !rd.Int(retry->value, "max_backoff_ms", "retry.", &c->retry.max_backoff_ms, 1, 86400000) ||
      !rd.Int(retry->value, "jitter_percent", "retry.", &jitter_pct, 0, 100) ||
      !rd.Int(retry->value, "max_attempts", "retry.", &attempts, 0, 1000000)) {
    return false;
  }
  c->retry.jitter = static_cast<double>(jitter_pct) / 100.0;
  c->retry.max_attempts = static_cast<int>(attempts);
  if (c->retry.max_backoff_ms < c->retry.initial_backoff_ms) {
    return rd.Fail("retry.max_backoff_ms", "must not be below retry.initial_backoff_ms");
  }
  return true;
}

// Topics written, batching, ordering, and the bounds on work in progress.
bool ParseDelivery(Reader& rd, const Value& doc, Config* c) {
  if (!rd.String(doc, "dead_letter_topic", "", &c->dead_letter_topic, true) ||
      !rd.String(doc, "receipts_topic", "", &c->receipts_topic, false) ||
      !rd.String(doc, "schemas", "", &c->schemas, false)) {
    return false;
  }
  for (const auto& r : c->routes) {
    if (r.topic == c->dead_letter_topic) {
      return rd.Fail("dead_letter_topic", "must not be a routed topic");
    }
    if (r.topic == c->receipts_topic) return rd.Fail("receipts_topic", "must not be a routed topic");
  }
  auto batch = doc.FindMember("batch");
  if (batch != doc.MemberEnd()) {
    if (!batch->value.IsObject()) return rd.Fail("batch", "must be an object");
    int64_t count = c->batch.max_messages;
    if (!rd.Known(batch->value, "batch.", {"max_messages", "max_bytes", "linger_ms"}) ||
        !rd.Int(batch->value, "max_messages", "batch.", &count, 1, 10000) ||
        !rd.Int(batch->value, "max_bytes", "batch.", &c->batch.max_bytes, 1024, 64 << 20) ||
        !rd.Int(batch->value, "linger_ms", "batch.", &c->batch.linger_ms, 0, 60000)) {
      return false;
    }
    c->batch.max_messages = static_cast<int>(count);
  }
  auto ordering = doc.FindMember("ordering");
  if (ordering != doc.MemberEnd()) {
    if (!ordering->value.IsObject()) return rd.Fail("ordering", "must be an object");
    std::string by = "key";
    if (!rd.Known(ordering->value, "ordering.", {"by", "fallback_field"}) ||
        !rd.String(ordering->value, "by", "ordering.", &by, false) ||
        !rd.String(ordering->value, "fallback_field", "ordering.", &c->ordering.fallback_field,
                   false)) {
      return false;
    }
    if (by != "key" && by != "partition") return rd.Fail("ordering.by", "must be key or partition");
    c->ordering.by_partition = by == "partition";
    if (c->ordering.fallback_field != "MPANCore" && c->ordering.fallback_field != "none") {
      return rd.Fail("ordering.fallback_field", "must be MPANCore or none");
    }
  }
  int64_t in_flight = c->max_in_flight, buffered = c->max_buffered_messages,
          signing = c->signing_threads, connections = c->max_connections;
  if (!rd.Int(doc, "max_in_flight", "", &in_flight, 1, 100000) ||
      !rd.Int(doc, "max_buffered_messages", "", &buffered, 1, 10000000) ||
      !rd.Int(doc, "signing_threads", "", &signing, 0, 256) ||
      !rd.Int(doc, "max_connections", "", &connections, 1, 1024)) {
    return false;
  }
  if (buffered < in_flight) {
    return rd.Fail("max_buffered_messages", "must not be below max_in_flight (messages in flight "
                                            "are buffered until done)");
  }
  c->max_in_flight = static_cast<int>(in_flight);
  c->max_buffered_messages = static_cast<int>(buffered);
  c->signing_threads = static_cast<int>(signing);
  c->max_connections = static_cast<int>(connections);
  return true;
}

bool ParseService(Reader& rd, const Value& doc, Config* c) {
  if (!rd.String(doc, "metrics_listen", "", &c->metrics_listen, false) ||
      !rd.Int(doc, "shutdown_timeout_ms", "", &c->shutdown_timeout_ms, 0, 600000)) {
    return false;
  }
  if (!c->metrics_listen.empty() && c->metrics_listen.find(':') == std::string::npos) {
    return rd.Fail("metrics_listen", "must be host:port (or empty to disable)");
  }
  return true;
}

bool Parse(Reader& rd, const std::string& json, Config* c) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return rd.Fail("(file)", std::string("not valid JSON: ") +
                                 rapidjson::GetParseError_En(doc.GetParseError()) +
                                 " at offset " + std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return rd.Fail("(file)", "must be a JSON object");
  std::vector<const char*> known = {"kafka", "timeouts", "metrics_listen", "shutdown_timeout_ms",
                                    "http2", "inbound"};
  known.insert(known.end(), std::begin(kOutboundKeys), std::end(kOutboundKeys));
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    if (std::none_of(known.begin(), known.end(),
                     [&](const char* k) { return strcmp(k, it->name.GetString()) == 0; })) {
      return rd.Fail(it->name.GetString(), "is not a known key");
    }
  }
  if (!ParseKafka(rd, doc, c) || !ParseInbound(rd, doc, &c->inbound)) return false;
  // Outbound (routes) is optional when the bridge only receives webhooks.
  bool outbound = doc.HasMember("routes") || !c->inbound.enabled;
  if (!outbound && !doc.HasMember("identities")) return NoOutboundKeys(rd, doc) && ParseService(rd, doc, c);
  if (c->kafka.count("group.id") == 0) return rd.Fail("kafka.group.id", "is required");
  return ParseIdentities(rd, doc, c) && ParseRoutes(rd, doc, c) && ParseTls(rd, doc, c) &&
         ParseApiKey(rd, doc, c) && ParseTimeoutsAndRetry(rd, doc, c) &&
         ParseDelivery(rd, doc, c) && ParseService(rd, doc, c);
}

}  // namespace

Result<Config> ParseConfig(const std::string& json) {
  std::string error;
  Reader rd(&error);
  Config c;
  if (!Parse(rd, json, &c)) return Error{Reason::kInternalError, error};
  return c;
}

std::map<std::string, std::string> ProducerProperties(
    const std::map<std::string, std::string>& kafka) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : kafka) {
    if (k == "group.id" || k.rfind("auto.", 0) == 0 || k.rfind("enable.auto", 0) == 0 ||
        k == "partition.assignment.strategy" || k == "session.timeout.ms" ||
        k == "max.poll.interval.ms" || k == "group.instance.id" ||
        k == "heartbeat.interval.ms" || k.rfind("fetch.", 0) == 0) {
      continue;  // consumer-only properties
    }
    out[k] = v;
  }
  return out;
}

void FillPlaceholder(std::string* text, std::string_view placeholder, std::string_view value) {
  for (size_t at = 0; (at = text->find(placeholder, at)) != std::string::npos; at += value.size()) {
    text->replace(at, placeholder.size(), value);
  }
}

std::set<std::string> Origins(const Config& config) {
  std::set<std::string> out;
  for (const Route& r : config.routes) {
    size_t scheme = r.url.find("://");
    size_t path = r.url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    out.insert(r.url.substr(0, path));
  }
  return out;
}

Result<std::shared_ptr<const dip::SchemaSet>> LoadSchemas(const char* key, const std::string& dir) {
  auto set = dip::SchemaSet::Load(dir);
  if (!set) return Error{set.error().reason, std::string("config: ") + key + ": " + set.error().detail};
  return set;
}

Result<Config> LoadConfig(const std::string& path) {
  auto json = ReadWholeFile(path);
  if (!json) return Error{Reason::kInternalError, "config: " + json.error().detail};
  return ParseConfig(*json);
}

}  // namespace dipgate::bridge
