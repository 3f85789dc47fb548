#include "kafka_bridge/inbound.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <librdkafka/rdkafkacpp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "common/dip/codes.h"
#include "common/dip/message.h"
#include "common/dip/response.h"
#include "common/dip/schema.h"
#include "common/files.h"
#include "common/headers.h"
#include "common/verifier.h"
#include "kafka_bridge/duplicates.h"
#include "kafka_bridge/log.h"
#include "kafka_bridge/producer.h"

namespace dipgate::bridge {
namespace {

using Clock = std::chrono::steady_clock;

// Kafka's acknowledgements for the records of one webhook. Shared with the
// records' delivery reports, which may arrive after the webhook gave up.
struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  int pending = 0;
  int failed = 0;
  std::string error;
};


struct Answer {
  unsigned int status = MHD_HTTP_INTERNAL_SERVER_ERROR;
  std::string body;
  bool retry_after = false;
  std::string word;    // the reason word, for the metrics
  std::string reason;  // logged
};

// Per connection: the body as it arrives.
struct RequestState {
  std::string body;
  bool too_large = false;
  Clock::time_point started = Clock::now();
};

// The peer's address, and whether it is this host (loopback, or a unix
// socket: only local processes with the socket's permissions reach it).
std::string PeerAddress(MHD_Connection* c, bool* local) {
  *local = false;
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const sockaddr* sa = info == nullptr ? nullptr : info->client_addr;
  if (sa == nullptr || sa->sa_family == AF_UNIX) {
    *local = true;  // libmicrohttpd gives no address for a unix socket peer
    return "unix socket";
  }
  char text[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    *local = IsLoopback(in->sin_addr);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    *local = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return text;
}

// With inbound.tls.client_ca: the client certificate of the connection's
// TLS session, checked by GnuTLS against that CA (chain, validity).
// Empty when it passes, else why not.
std::string ClientCertificateProblem(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (info == nullptr || info->tls_session == nullptr) return "not a TLS connection";
  auto session = static_cast<gnutls_session_t>(info->tls_session);
  unsigned int count = 0;
  if (gnutls_certificate_get_peers(session, &count) == nullptr || count == 0) {
    return "no client certificate was presented";
  }
  unsigned int status = 0;
  int rc = gnutls_certificate_verify_peers2(session, &status);
  if (rc < 0) return std::string("the client certificate cannot be checked: ") + gnutls_strerror(rc);
  if (status == 0) return {};
  gnutls_datum_t text{};
  std::string why = "the client certificate does not verify against inbound.tls.client_ca";
  if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
    why += std::string(": ") + reinterpret_cast<const char*>(text.data);
    gnutls_free(text.data);
  }
  return why;
}

std::string Header(MHD_Connection* c, const std::string& name) {
  if (name.empty()) return {};
  const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name.c_str());
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

struct Inbound::Impl {
  InboundConfig config;
  Metrics* metrics = nullptr;
  DuplicateWindow duplicates;
  std::unique_ptr<KafkaProducer> producer;  // its reports are served by `poller`
  std::shared_ptr<const dip::SchemaSet> schemas;
  std::unique_ptr<Verifier> verifier;  // inbound.verify; guarded by verify_mu
  std::mutex verify_mu;
  std::atomic<bool> stop{false};
  std::thread poller;
  MHD_Daemon* daemon = nullptr;
  int unix_fd = -1;
  // inbound.tls, read at start: libmicrohttpd keeps pointers to them.
  std::string tls_certificate, tls_key, tls_client_ca;

  explicit Impl(const InboundConfig& c)
      : config(c),
        duplicates(c.duplicate_window_s * 1000, static_cast<size_t>(c.duplicate_capacity)) {}

  // ---- the answers

  Answer Refuse(unsigned int status, Reason reason, const std::string& detail,
                const dip::MessageArray* array) {
    Answer a;
    a.status = status;
    a.word = std::string(ToString(reason));
    a.reason = a.word + ": " + detail;
    a.retry_after = IsOwnFault(reason) || status == MHD_HTTP_SERVICE_UNAVAILABLE;
    dip::StandardResponse r;
    r.timestamp = dip::BodyTimestamp(WallClockMillis());
    std::string code(a.retry_after ? "RCP1000" : dip::RecipientCodeFor(reason));
    std::string help = "dipgate-bridge: " + std::string(ToString(reason)) + ": " + detail;
    if (array != nullptr) {
      for (const auto& m : array->messages()) {
        r.entries.push_back(dip::EntryFor(m.envelope, code, config.participant_id, help));
      }
    } else {
      r.entries.push_back(dip::EntryFor(dip::Envelope{}, code, config.participant_id, help));
    }
    a.body = dip::ToJson(r);
    return a;
  }

  Answer Accept(const dip::MessageArray& array, const std::vector<bool>& duplicate) {
    Answer a;
    a.status = MHD_HTTP_CREATED;
    dip::StandardResponse r;
    r.timestamp = dip::BodyTimestamp(WallClockMillis());
    for (const auto& m : array.messages()) {
      r.entries.push_back(dip::EntryFor(
          m.envelope, "RCP0000", config.participant_id,
          duplicate[m.index] ? "already received: in Kafka from an earlier delivery" : ""));
    }
    a.body = dip::ToJson(r);
    return a;
  }

  // ---- one webhook

  Answer Handle(MHD_Connection* c, const RequestState& state) {
    if (state.too_large) {
      return Refuse(MHD_HTTP_PAYLOAD_TOO_LARGE, Reason::kBodyTooLarge,
                    "the body exceeds inbound.max_body (" + std::to_string(config.max_body) +
                        " bytes)",
                    nullptr);
    }
    // A header is not proof of who sent it: it is taken only from a peer
    // this listener authenticated (mutual TLS) or one on this host, unless
    // the signature is checked here.
    bool local = false;
    std::string peer = PeerAddress(c, &local);
    if (!config.tls_client_ca.empty()) {
      std::string problem = ClientCertificateProblem(c);
      if (!problem.empty()) {
        return Refuse(MHD_HTTP_FORBIDDEN, Reason::kPeerNotAuthenticated,
                      "peer " + peer + ": " + problem, nullptr);
      }
    } else if (!local && !verifier) {
      return Refuse(MHD_HTTP_FORBIDDEN, Reason::kPeerNotAuthenticated,
                    "peer " + peer + " is not on this host and not authenticated: " +
                        config.verified_header +
                        " is taken only over loopback, a unix socket or mutual TLS "
                        "(inbound.tls.client_ca)",
                    nullptr);
    }
    if (!config.verified_header.empty() && Header(c, config.verified_header) != "ok") {
      return Refuse(MHD_HTTP_FORBIDDEN, Reason::kSignatureMismatch,
                    "not verified by nginx: " + config.verified_header + " is \"" +
                        Header(c, config.verified_header) +
                        "\", not \"ok\" (proxy_set_header " + config.verified_header +
                        " $dip_verify_status)",
                    nullptr);
    }
    // dip.signer: the subject of the certificate verified here when the
    // bridge verifies; otherwise what the authenticated hop (nginx) says.
    std::string signer = Header(c, config.signer_header);
    if (verifier) {
      Verdict v = VerifyAgain(c, state.body);
      if (!v.ok()) {
        return Refuse(IsOwnFault(v.reason) ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_UNAUTHORIZED,
                      v.reason, (v.header.empty() ? "" : v.header + ": ") + v.detail, nullptr);
      }
      signer = v.signer ? v.signer->subject : std::string();
    }
    auto array = dip::MessageArray::Parse(state.body);
    if (!array) {
      return Refuse(MHD_HTTP_BAD_REQUEST, array.reason(), array.error().detail, nullptr);
    }
    for (const auto& m : array->messages()) {
      if (!dip::IsSafeName(m.envelope.interface_id)) {
        return Refuse(MHD_HTTP_BAD_REQUEST, Reason::kUnknownInterface,
                      "message " + std::to_string(m.index) + ": interfaceID '" +
                          m.envelope.interface_id + "' cannot name a topic",
                      &*array);
      }
    }
    if (schemas) {
      dip::SchemaVerdict v = schemas->Validate(*array);
      if (!v.ok()) {
        return Refuse(MHD_HTTP_BAD_REQUEST, v.reason,
                      "message " + std::to_string(v.message) + " at " + v.pointer + ": " + v.detail,
                      &*array);
      }
    }
    return Produce(c, *array, signer, state.started);
  }

  Verdict VerifyAgain(MHD_Connection* c, const std::string& body) {
    std::string destination = Header(c, config.destination_header);
    DipHeaderCollector h;
    MHD_get_connection_values(
        c, MHD_HEADER_KIND,
        [](void* cls, MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
          static_cast<DipHeaderCollector*>(cls)->Add(key, value ? value : "");
          return MHD_YES;
        },
        &h);
    if (!h.duplicate().empty()) {
      Verdict v;
      v.reason = Reason::kDuplicateHeader;
      v.header = std::string(h.duplicate());
      v.detail = v.header + " appears more than once";
      return v;
    }
    if (destination.empty() && h.signature().empty()) {
      Verdict v;  // not signed at all: the sender's fault, whatever nginx passed
      v.reason = Reason::kMissingHeader;
      v.header = std::string(kSignatureHeader);
      v.detail = v.header + " is missing";
      return v;
    }
    if (destination.empty()) {
      Verdict v;
      v.reason = Reason::kInternalError;
      v.detail = config.destination_header +
                 " is missing: nginx must pass the URL the DIP signed (proxy_set_header " +
                 config.destination_header + " $scheme://$host$request_uri)";
      return v;
    }
    SignedRequest r;
    r.method = "POST";
    r.destination = destination;
    r.body = body;
    r.signature = h.signature();
    r.signature_date = h.signature_date();
    r.certificate = h.certificate();
    r.content_hash = h.content_hash();
    std::lock_guard<std::mutex> lock(verify_mu);
    return verifier->Verify(r, WallClockMillis());
  }

  std::string TopicFor(const dip::Envelope& e) const {
    std::string topic = config.topic;
    std::string event = e.event_code;
    if (event.size() >= 2 && event.front() == '[' && event.back() == ']') {
      event = event.substr(1, event.size() - 2);
    }
    FillPlaceholder(&topic, "{interfaceID}", e.interface_id);
    FillPlaceholder(&topic, "{eventCode}", dip::IsSafeName(event) ? event : "unknown");
    return topic;
  }

  std::string KeyFor(const dip::Envelope& e) const {
    if (config.key_field == "MPANCore") return e.mpan_core;
    if (config.key_field == "transactionID") return e.transaction_id;
    if (config.key_field == "senderUniqueReference") return e.sender_unique_reference;
    if (config.key_field == "interfaceID") return e.interface_id;
    return {};
  }

  Answer Produce(MHD_Connection* c, const dip::MessageArray& array, const std::string& signer,
                 Clock::time_point started) {
    auto batch = std::make_shared<Batch>();
    auto deadline = Clock::now() + std::chrono::milliseconds(config.produce_timeout_ms + 2000);
    std::vector<bool> duplicate(array.messages().size(), false);
    std::string mpo = Header(c, "X-DIP-MPO");
    int64_t now = WallClockMillis();
    for (const auto& m : array.messages()) {
      const dip::Envelope& e = m.envelope;
      bool replay = e.replay_indicator.value_or(false);
      if (!replay && !e.transaction_id.empty() && duplicates.Seen(e.transaction_id, now)) {
        duplicate[m.index] = true;
        metrics->inbound_duplicates += 1;
        LogEvent("info", "inbound_duplicate", Field("transactionID", e.transaction_id));
        continue;
      }
      OutRecord record;
      record.topic = TopicFor(e);
      record.key = KeyFor(e);
      record.value = std::string(array.PayloadText(m.index));  // the bytes the DIP sent
      record.headers = {{"dip.transactionID", e.transaction_id},
                        {"dip.publicationID", e.publication_id},
                        {"dip.replayIndicator", replay ? "true" : "false"},
                        {"dip.interfaceID", e.interface_id},
                        {"dip.eventCode", e.event_code},
                        {"dip.senderUniqueReference", e.sender_unique_reference}};
      if (!signer.empty()) record.headers.emplace_back("dip.signer", signer);
      if (!mpo.empty()) record.headers.emplace_back("dip.mpo", mpo);
      {
        std::lock_guard<std::mutex> lock(batch->mu);
        ++batch->pending;
      }
      // Runs on the poller once Kafka answered; the batch outlives the
      // webhook, which may have given up waiting.
      auto acked = [this, batch, transaction_id = e.transaction_id, replay](RdKafka::ErrorCode err) {
        if (err == RdKafka::ERR_NO_ERROR && !replay) {
          duplicates.Record(transaction_id, WallClockMillis());
        }
        std::lock_guard<std::mutex> lock(batch->mu);
        if (err != RdKafka::ERR_NO_ERROR) {
          ++batch->failed;
          if (batch->error.empty()) batch->error = RdKafka::err2str(err);
        }
        --batch->pending;
        batch->cv.notify_all();
      };
      RdKafka::ErrorCode rc;
      for (;;) {
        rc = producer->Produce(record, acked);
        if (rc != RdKafka::ERR__QUEUE_FULL || Clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the poller drains
      }
      if (rc != RdKafka::ERR_NO_ERROR) {
        std::lock_guard<std::mutex> lock(batch->mu);
        --batch->pending;
        ++batch->failed;
        if (batch->error.empty()) batch->error = RdKafka::err2str(rc);
        break;  // the whole webhook is answered 503 and retried
      }
      if (replay) metrics->inbound_replays += 1;
    }
    std::unique_lock<std::mutex> lock(batch->mu);
    bool done = batch->cv.wait_until(lock, deadline, [&] { return batch->pending == 0; });
    if (!done || batch->failed > 0) {
      std::string why = !done ? "Kafka did not acknowledge within inbound.produce_timeout_ms"
                              : "Kafka refused a record: " + batch->error;
      lock.unlock();
      return Refuse(MHD_HTTP_SERVICE_UNAVAILABLE, Reason::kInternalError, why + "; retry later",
                    &array);
    }
    lock.unlock();
    for (bool d : duplicate) {
      if (!d) metrics->inbound_produced += 1;
    }
    metrics->inbound_ack_micros += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
    return Accept(array, duplicate);
  }

  // ---- libmicrohttpd

  static MHD_Result Request(void* cls, MHD_Connection* c, const char* /*url*/, const char* method,
                            const char* /*version*/, const char* upload, size_t* upload_size,
                            void** state_ptr) {
    auto* self = static_cast<Impl*>(cls);
    auto* state = static_cast<RequestState*>(*state_ptr);
    if (state == nullptr) {
      if (strcmp(method, "POST") != 0) {
        return self->Send(c, Answer{MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "{\"error\":\"POST a DIP webhook here\"}\n", false, "method",
                                    "method"});
      }
      *state_ptr = new (std::nothrow) RequestState();
      return *state_ptr == nullptr ? MHD_NO : MHD_YES;
    }
    if (*upload_size > 0) {
      if (state->body.size() + *upload_size > static_cast<size_t>(self->config.max_body)) {
        state->too_large = true;
      } else {
        state->body.append(upload, *upload_size);
      }
      *upload_size = 0;
      return MHD_YES;
    }
    self->metrics->webhooks_received += 1;
    Answer a;
    try {
      a = self->Handle(c, *state);
    } catch (const std::exception& e) {
      a = self->Refuse(MHD_HTTP_SERVICE_UNAVAILABLE, Reason::kInternalError,
                       std::string("exception: ") + e.what(), nullptr);
    }
    if (a.status == MHD_HTTP_CREATED) {
      self->metrics->webhooks_accepted += 1;
    } else if (a.status == MHD_HTTP_SERVICE_UNAVAILABLE) {
      self->metrics->webhooks_unavailable += 1;
      self->metrics->CountWebhookRefusal(a.word);
      LogEvent("warn", "inbound_unavailable", Field("reason", a.reason));
    } else {
      self->metrics->webhooks_refused += 1;
      self->metrics->CountWebhookRefusal(a.word);
      LogEvent("warn", "inbound_refused",
               Field("status", static_cast<int64_t>(a.status)) + "," + Field("reason", a.reason));
    }
    return self->Send(c, a);
  }

  MHD_Result Send(MHD_Connection* c, const Answer& a) {
    MHD_Response* response =
        MHD_create_response_from_buffer(a.body.size(), const_cast<char*>(a.body.data()),
                                        MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;
    MHD_add_response_header(response, "Content-Type", "application/json");
    if (a.retry_after) {
      MHD_add_response_header(response, "Retry-After",
                              std::to_string(config.retry_after_s).c_str());
    }
    MHD_Result rc = MHD_queue_response(c, a.status, response);
    MHD_destroy_response(response);
    return rc;
  }

  static void Completed(void* /*cls*/, MHD_Connection* /*c*/, void** state_ptr,
                        MHD_RequestTerminationCode /*code*/) {
    delete static_cast<RequestState*>(*state_ptr);
    *state_ptr = nullptr;
  }

  // ---- start and stop

  Status Listen() {
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    auto limit = static_cast<unsigned int>(config.max_connections);
    if (config.listen.rfind("unix:", 0) == 0) {
      std::string path = config.listen.substr(5);
      sockaddr_un addr{};
      if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        return Error{Reason::kInternalError, "inbound.listen: bad unix socket path " + path};
      }
      unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      addr.sun_family = AF_UNIX;
      memcpy(addr.sun_path, path.c_str(), path.size());
      unlink(path.c_str());
      if (unix_fd < 0 || bind(unix_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
          chmod(path.c_str(), 0660) != 0 || listen(unix_fd, 128) != 0) {
        return Error{Reason::kInternalError,
                     "inbound.listen: cannot listen on " + path + ": " + strerror(errno)};
      }
      daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Request, this,
                                MHD_OPTION_LISTEN_SOCKET, unix_fd, MHD_OPTION_CONNECTION_LIMIT,
                                limit, MHD_OPTION_CONNECTION_TIMEOUT, 60U,
                                MHD_OPTION_NOTIFY_COMPLETED, &Completed, this, MHD_OPTION_END);
    } else {
      size_t colon = config.listen.rfind(':');
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(atoi(config.listen.c_str() + colon + 1)));
      if (inet_pton(AF_INET, config.listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
        return Error{Reason::kInternalError,
                     "inbound.listen: not an IPv4 address: " + config.listen};
      }
      // inbound.tls: HTTPS, asking for a client certificate when a client
      // CA is given (Handle checks it); otherwise no TLS option at all.
      std::vector<MHD_OptionItem> tls;
      if (!config.tls_certificate.empty()) {
        if (auto t = ReadTls(); !t) return t;
        flags |= MHD_USE_TLS;
        tls.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(tls_certificate.c_str())});
        tls.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(tls_key.c_str())});
        if (!tls_client_ca.empty()) {
          tls.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(tls_client_ca.c_str())});
        }
      }
      tls.push_back({MHD_OPTION_END, 0, nullptr});
      daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Request, this, MHD_OPTION_SOCK_ADDR,
                                &addr, MHD_OPTION_CONNECTION_LIMIT, limit,
                                MHD_OPTION_CONNECTION_TIMEOUT, 60U, MHD_OPTION_NOTIFY_COMPLETED,
                                &Completed, this, MHD_OPTION_ARRAY, tls.data(), MHD_OPTION_END);
    }
    if (daemon == nullptr) {
      return Error{Reason::kInternalError, "inbound.listen: cannot listen on " + config.listen};
    }
    return OkStatus();
  }

  // inbound.tls's files, for libmicrohttpd (which takes PEM text).
  Status ReadTls() {
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
      return Error{Reason::kInternalError,
                   "inbound.tls: this libmicrohttpd was built without TLS support"};
    }
    for (auto [key, path, into] :
         {std::tuple<const char*, const std::string*, std::string*>{
              "certificate", &config.tls_certificate, &tls_certificate},
          {"key", &config.tls_key, &tls_key},
          {"client_ca", &config.tls_client_ca, &tls_client_ca}}) {
      if (path->empty()) continue;
      auto text = ReadWholeFile(*path);
      if (!text) {
        return Error{Reason::kInternalError,
                     std::string("inbound.tls.") + key + ": " + text.error().detail};
      }
      *into = std::move(*text);
    }
    return OkStatus();
  }

  Status CreateProducer(const std::map<std::string, std::string>& kafka) {
    std::map<std::string, std::string> props = ProducerProperties(kafka);
    // A record not acknowledged in time fails, rather than landing after the
    // webhook was answered 503 (its retry would then be a duplicate).
    props["message.timeout.ms"] = std::to_string(config.produce_timeout_ms);
    auto made = KafkaProducer::Create(std::move(props), "inbound");
    if (!made) return made.error();
    producer = std::move(*made);
    poller = std::thread([this] {
      while (!stop.load()) producer->Poll(50);
    });
    return OkStatus();
  }

  ~Impl() {
    if (daemon != nullptr) MHD_stop_daemon(daemon);  // waits for requests in progress
    if (unix_fd >= 0) {
      close(unix_fd);
      unlink(config.listen.substr(5).c_str());
    }
    if (producer) producer->Flush(5000);
    stop.store(true);
    if (poller.joinable()) poller.join();
  }
};

Inbound::Inbound(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Inbound::~Inbound() = default;

Result<std::unique_ptr<Inbound>> Inbound::Start(const Config& config, Metrics* metrics) {
  auto impl = std::make_unique<Impl>(config.inbound);
  impl->metrics = metrics;
  const InboundConfig& in = config.inbound;
  if (!in.schemas.empty()) {
    auto set = LoadSchemas("inbound.schemas", in.schemas);
    if (!set) return set.error();
    impl->schemas = *set;
  }
  if (!in.verify_ca.empty()) {
    TrustOptions o;
    o.ca_files = in.verify_ca;
    o.crl_files = in.verify_crl;
    auto environment = EnvironmentFromName(in.verify_environment);
    if (!environment) {
      return Error{Reason::kInternalError, "inbound.verify.environment: " + environment.error().detail};
    }
    o.environment = *environment;
    auto trust = TrustStore::Create(std::move(o));
    if (!trust) return Error{Reason::kInternalError, "inbound.verify: " + trust.error().detail};
    impl->verifier = std::make_unique<Verifier>(*trust, VerifyPolicy{});
  }
  if (auto p = impl->CreateProducer(config.kafka); !p) return p.error();
  if (auto l = impl->Listen(); !l) return l.error();
  LogEvent("info", "inbound_listening",
           Field("listen", in.listen) + "," + Field("topic", in.topic) + "," +
               Field("schemas", impl->schemas ? impl->schemas->spec_version() : "off"));
  return std::unique_ptr<Inbound>(new Inbound(std::move(impl)));
}

}  // namespace dipgate::bridge
