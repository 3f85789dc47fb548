// dipctl as a DIP client: validate (offline, like the DIP's /validate),
// send (a message array to /dip-channel/{id}), and the management calls a
// participant makes: pubconfig (webhook registration), replay, requeue,
// statusmessage. Every call is signed (CoCo 8), sent over mutual TLS with
// the API key (CoCo 8.8), and the DIP's answer printed.
#include <limits.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/cli.h"
#include "common/dip/codes.h"
#include "common/dip/message.h"
#include "common/dip/response.h"
#include "common/dip/schema.h"
#include "common/files.h"
#include "common/headers.h"
#include "common/json_text.h"
#include "common/signer.h"
#include "transport/https.h"

namespace dipgate {
namespace {

constexpr char kInstalledSchemas[] = "/usr/share/dipgate/schemas";

// Options every call to the DIP takes.
const std::vector<std::string> kCallOptions = {
    "url",        "cert",        "key",        "passphrase-file", "pkcs12",
    "api-key",    "api-key-file", "server-ca", "client-cert",     "client-key",
    "client-key-passphrase-file", "tls-min",   "no-http2",        "timeout",
    "expect-continue-bytes",
    "format",     "date"};
const std::vector<std::string> kCallFlags = {"no-http2"};

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --schemas, $DIPGATE_SCHEMAS, the copy beside a Bazel-built dipctl, or the
// installed copy.
std::string SchemaDirectory(const Args& args) {
  if (args.Has("schemas")) return args.Get("schemas");
  if (const char* env = getenv("DIPGATE_SCHEMAS"); env != nullptr && *env) return env;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    std::string runfiles = std::string(exe, n) + ".runfiles/dipgate/third_party/dip_api/schemas";
    if (access((runfiles + "/index.json").c_str(), R_OK) == 0) return runfiles;
  }
  return kInstalledSchemas;
}

Result<std::shared_ptr<const dip::SchemaSet>> LoadSchemas(const Args& args) {
  auto set = dip::SchemaSet::Load(SchemaDirectory(args));
  if (!set) {
    return Error{Reason::kInternalError,
                 set.error().detail + "; give --schemas DIR (made by third_party/dip_api/convert.py)"};
  }
  return set;
}

// The S1.environmentTag values --env accepts.
Result<std::vector<std::string>> EnvironmentTags(const Args& args) {
  std::string env = args.Get("env", "any");
  if (env != "prod" && env != "nonprod" && env != "any") {
    return Error{Reason::kInternalError, "--env must be prod, nonprod or any, not '" + env + "'"};
  }
  return dip::EnvironmentTagsFor(env);
}

void PrintVerdict(const dip::SchemaVerdict& v, bool json) {
  std::string_view code = dip::IngressCodeFor(v.reason);
  if (json) {
    std::cout << "{\"valid\": false, \"reason\": " << JsonQuote(ToString(v.reason))
              << ", \"message\": " << v.message << ", \"pointer\": " << JsonQuote(v.pointer)
              << ", \"keyword\": " << JsonQuote(v.keyword) << ", \"schema\": "
              << JsonQuote(v.schema) << ", \"detail\": " << JsonQuote(v.detail)
              << ", \"dip_answer\": " << JsonQuote(dip::MessageFor(code)) << "}\n";
    return;
  }
  std::cout << "rejected: " << ToString(v.reason) << "\n"
            << "  message: " << v.message << "\n"
            << "  at:      " << (v.pointer.empty() ? "/" : v.pointer) << "\n";
  if (!v.keyword.empty()) std::cout << "  keyword: " << v.keyword << "\n";
  if (!v.schema.empty()) std::cout << "  schema:  " << v.schema << "\n";
  std::cout << "  why:     " << v.detail << "\n";
  if (!code.empty()) std::cout << "  the DIP would answer 400 " << dip::MessageFor(code) << "\n";
}

// A message body as dipctl takes it (a bare payload or one message too);
// prints why when it is not one.
Result<dip::MessageArray> ParseMessages(const Args& args, const std::string& body) {
  dip::ParseOptions po;
  po.allow_bare_payload = true;
  auto parsed = dip::MessageArray::Parse(body, po);
  if (!parsed) {
    dip::SchemaVerdict v;
    v.reason = parsed.reason();
    v.detail = parsed.error().detail;
    PrintVerdict(v, args.Get("format") == "json");
  }
  return parsed;
}

// Validates parsed messages; prints the outcome (only failures when
// `quiet_ok`). Returns kExitOk, kExitRejected or kExitError.
int CheckMessages(const Args& args, const dip::MessageArray& array, const std::string& channel,
                  bool quiet_ok) {
  bool json = args.Get("format") == "json";
  auto schemas = LoadSchemas(args);
  if (!schemas) return Fail(schemas.error().detail);
  dip::Expectations expect;
  expect.channel = channel;
  auto tags = EnvironmentTags(args);
  if (!tags) return Usage(tags.error().detail);
  expect.environment_tags = std::move(*tags);
  dip::SchemaVerdict v = (*schemas)->Validate(array, expect);
  if (!v.ok()) {
    PrintVerdict(v, json);
    return kExitRejected;
  }
  if (quiet_ok) return kExitOk;
  const auto& messages = array.messages();
  if (json) {
    std::cout << "{\"valid\": true, \"messages\": " << messages.size()
              << ", \"spec\": " << JsonQuote((*schemas)->spec_version()) << "}\n";
    return kExitOk;
  }
  std::cout << "ok: " << messages.size() << (messages.size() == 1 ? " message" : " messages")
            << " valid against DIP spec " << (*schemas)->spec_version() << "\n";
  for (const auto& m : messages) {
    auto names = (*schemas)->SchemasFor(m.envelope.interface_id, m.envelope.event_code);
    std::cout << "  " << m.index << ": " << m.envelope.interface_id << " "
              << m.envelope.event_code << " (" << (names.empty() ? "?" : names.front())
              << "), senderUniqueReference " << m.envelope.sender_unique_reference << "\n";
  }
  if (array.form() != dip::BodyForm::kArray) {
    std::cout << "note: not a message array; `dipctl send` wraps it as [{\"payload\": ...}]\n";
  }
  return kExitOk;
}

// Everything one signed call needs, read from the options once.
struct Caller {
  std::string base;  // https://host:port, no trailing slash
  std::string api_key;
  transport::TlsSettings tls;
  std::shared_ptr<const SigningIdentity> identity;
  UnixMillis now = 0;
};

int MakeCaller(const Args& args, Caller* c) {
  if (!args.Has("url")) return Usage("--url (the DIP's base URL, e.g. https://dip.example) is required");
  if (!args.Has("pkcs12") && !(args.Has("cert") && args.Has("key"))) {
    return Usage("give the signing identity: --cert and --key, or --pkcs12");
  }
  c->base = args.Get("url");
  while (!c->base.empty() && c->base.back() == '/') c->base.pop_back();
  auto now = Now(args);
  if (!now) return Usage(now.error().detail);
  c->now = *now;
  if (args.Has("api-key-file")) {
    auto key = ReadFirstLine(args.Get("api-key-file"));
    if (!key) return Fail("API key file: " + key.error().detail);
    c->api_key = std::move(*key);
  } else {
    c->api_key = args.Get("api-key");
  }
  transport::TlsOptions o;
  o.ca_file = args.Get("server-ca");
  o.client_certificate = args.Get("client-cert");
  o.client_key = args.Get("client-key");
  o.client_key_passphrase_file = args.Get("client-key-passphrase-file");
  o.min_version = args.Get("tls-min", "1.2");
  o.http2 = !args.Has("no-http2");
  if (args.Has("expect-continue-bytes")) {
    const std::string& v = args.Get("expect-continue-bytes");
    char* end = nullptr;
    long long n = strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0) {
      return Usage("--expect-continue-bytes must be a number of bytes (0: never)");
    }
    o.expect_continue_bytes = static_cast<size_t>(n);
  }
  if (args.Has("timeout")) {
    long s = atol(args.Get("timeout").c_str());
    if (s <= 0) return Usage("--timeout must be a positive number of seconds");
    o.request_timeout_ms = s * 1000;
  }
  if (c->base.rfind("https://", 0) == 0 && o.ca_file.empty()) {
    return Usage("--server-ca (the CA bundle of the DIP's TLS certificate) is required for https");
  }
  auto tls = transport::LoadTls(o);
  if (!tls) return Fail(tls.error().detail);
  c->tls = std::move(*tls);
  KeySource src{"cli", args.Get("cert"), args.Get("key"), args.Get("pkcs12"),
                args.Get("passphrase-file")};
  auto id = LoadIdentity(src);
  if (!id) return Fail(id.error().detail);
  for (const auto& w : (*id)->warnings) std::cerr << "dipctl: warning: " << w << "\n";
  c->identity = *id;
  return kExitOk;
}

// Signs and sends one call; prints the status line. kExitError when no
// HTTP answer came.
int Call(const Caller& c, const std::string& method, const std::string& path,
         const std::string& body, transport::Reply* reply) {
  std::string url = c.base + path;
  auto signer = RequestSigner::Create(c.identity);
  if (!signer) return Fail(signer.error().detail);
  auto h = signer->Sign(method, url, body, c.now);
  if (!h) return Fail(h.error().detail);
  transport::HeaderList headers = SignedHeaderList(*h, c.api_key);
  *reply = transport::Perform(c.tls, method, url, body, headers);
  if (reply->transport_error) return Fail(method + " " + url + ": " + reply->error);
  std::cerr << "dipctl: " << method << " " << url << " -> HTTP " << reply->status;
  if (reply->retry_after_ms >= 0) std::cerr << " (Retry-After " << reply->retry_after_ms / 1000 << " s)";
  std::cerr << "\n";
  return kExitOk;
}

std::string Show(const std::optional<std::string>& v) { return v ? *v : "null"; }

// What a StandardResponse answer said of the messages sent.
struct Verdict {
  size_t entries = 0;
  size_t accepted = 0;    // MSG0000
  size_t duplicates = 0;  // MSG1006: already received, whatever the HTTP status
  // Every message is with the DIP: a 2xx whose entries are all MSG0000 or
  // MSG1006, or any answer whose entries are all MSG1006.
  bool Delivered(long status) const {
    if (entries == 0) return false;
    if (duplicates == entries) return true;
    return status >= 200 && status < 300 && accepted + duplicates == entries;
  }
};

// Prints a StandardResponse answer and what it means for each message.
Verdict PrintStandardResponse(const transport::Reply& reply, bool json) {
  if (json) {
    std::cout << reply.body << (reply.body.empty() || reply.body.back() != '\n' ? "\n" : "");
  }
  auto r = dip::ParseStandardResponse(reply.body);
  if (!r) {
    if (!json) {
      std::cout << "HTTP " << reply.status << ": the answer is not a StandardResponse: "
                << reply.body.substr(0, 300) << "\n";
    }
    return {};
  }
  Verdict verdict;
  verdict.entries = r->entries.size();
  if (!json) std::cout << "HTTP " << reply.status << "\n";
  for (size_t i = 0; i < r->entries.size(); ++i) {
    const dip::ResponseEntry& e = r->entries[i];
    dip::CodeClass kind = dip::FindResponseCode(e.code()).kind;
    if (e.code() == "MSG0000") ++verdict.accepted;
    if (kind == dip::CodeClass::kDuplicate) ++verdict.duplicates;
    if (json) continue;
    std::cout << "  " << i << ": " << Show(e.message) << "\n"
              << "     transactionID " << Show(e.transaction_id) << ", senderUniqueReference "
              << Show(e.sender_unique_reference) << "\n";
    if (e.help) std::cout << "     help: " << *e.help << "\n";
    if (kind == dip::CodeClass::kDuplicate) {
      std::cout << "     already received: the DIP kept the first copy; do not resend\n";
    } else if (kind == dip::CodeClass::kTransient) {
      std::cout << "     the DIP could not process it: send it again later"
                << (verdict.duplicates > 0 || reply.status == 400
                        ? " (without the messages already received)"
                        : "")
                << "\n";
    } else if (kind == dip::CodeClass::kSenderFault) {
      std::cout << "     the message is wrong: fix it before sending again\n";
    }
  }
  if (!json && r->timestamp) std::cout << "  timestamp " << *r->timestamp << "\n";
  if (!json && verdict.duplicates > 0) {
    std::cout << (verdict.duplicates == verdict.entries ? "already received: " : "")
              << verdict.duplicates << " of " << verdict.entries
              << " messages already received (MSG1006): delivered before, not a failure\n";
  }
  return verdict;
}

// An option that goes into the URL's path: required, and only characters
// safe there.
Result<std::string> PathSegment(const Args& args, const char* name) {
  std::string v = args.Get(name);
  if (v.empty()) return Error{Reason::kInternalError, std::string("--") + name + " is required"};
  if (!dip::IsSafeName(v)) {
    return Error{Reason::kInternalError,
                 std::string("--") + name + " '" + v + "' has characters not allowed in a URL path"};
  }
  return v;
}

// Validates a body dipctl built against the API's own schema.
int CheckApiBody(const Args& args, const char* schema, const std::string& body) {
  auto schemas = LoadSchemas(args);
  if (!schemas) return Fail(schemas.error().detail);
  rapidjson::Document d;
  d.Parse(body.c_str());
  dip::SchemaVerdict v = (*schemas)->ValidateApiBody(schema, d);
  if (v.reason == Reason::kInternalError) return Fail(v.detail);
  if (!v.ok()) return Usage(std::string("the ") + schema + " body is not valid: " + v.detail);
  return kExitOk;
}

}  // namespace

int ValidateCommand(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, {}); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown({"body", "schemas", "channel", "env", "format"});
  if (!unknown.empty()) return Usage("validate: unknown option --" + unknown);
  if (!args.Has("body")) return Usage("validate: --body FILE (or - for standard input) is required");
  auto read = ReadInput(args.Get("body"));
  if (!read) return Fail("body file: " + read.error().detail);
  const std::string& body = *read;
  auto parsed = ParseMessages(args, body);
  if (!parsed) return kExitRejected;
  return CheckMessages(args, *parsed, args.Get("channel"), false);
}

int SendCommand(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, With({"no-validate"}, kCallFlags)); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown(With({"body", "channel", "schemas", "env", "no-validate"}, kCallOptions));
  if (!unknown.empty()) return Usage("send: unknown option --" + unknown);
  if (!args.Has("body")) return Usage("send: --body FILE (or -) is required");
  auto read = ReadInput(args.Get("body"));
  if (!read) return Fail("body file: " + read.error().detail);
  const std::string& body = *read;
  Caller caller;
  if (int rc = MakeCaller(args, &caller); rc != kExitOk) return rc;

  auto parsed = ParseMessages(args, body);
  if (!parsed) {
    std::cerr << "dipctl: not sent\n";
    return kExitRejected;
  }
  // One channel per call: --channel, or the first message's interfaceID.
  std::string channel = args.Has("channel") ? args.Get("channel")
                                            : parsed->messages().front().envelope.interface_id;
  if (!dip::IsSafeName(channel)) {
    return Fail("channel '" + channel + "' has characters not allowed in a URL path");
  }
  if (!args.Has("no-validate")) {
    if (int rc = CheckMessages(args, *parsed, channel, true); rc != kExitOk) {
      std::cerr << "dipctl: not sent (--no-validate sends it anyway)\n";
      return rc;
    }
  }
  std::string wire = parsed->form() == dip::BodyForm::kArray ? body : parsed->ArrayJson();
  transport::Reply reply;
  if (int rc = Call(caller, "POST", "/dip-channel/" + channel, wire, &reply); rc != kExitOk) {
    return rc;
  }
  Verdict verdict = PrintStandardResponse(reply, args.Get("format") == "json");
  return verdict.Delivered(reply.status) ? kExitOk : kExitRejected;
}

int PubconfigCommand(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, With({"delete", "status-messages"}, kCallFlags)); !parsed) {
    return Usage(parsed.error().detail);
  }
  std::string unknown = args.Unknown(With({"channel", "recipient", "callback-url",
                                           "max-message-count", "max-payload-size", "delete",
                                           "status-messages", "schemas"},
                                          kCallOptions));
  if (!unknown.empty()) return Usage("pubconfig: unknown option --" + unknown);
  auto recipient_option = PathSegment(args, "recipient");
  if (!recipient_option) return Usage("pubconfig: " + recipient_option.error().detail);
  const std::string& recipient = *recipient_option;
  std::string path;
  if (args.Has("status-messages")) {
    if (args.Has("channel")) return Usage("pubconfig: give --channel or --status-messages, not both");
    path = "/statusmessage/config/" + recipient;
  } else {
    auto channel = PathSegment(args, "channel");
    if (!channel) return Usage("pubconfig: " + channel.error().detail + " (or --status-messages)");
    path = "/dip-channel/" + *channel + "/pubconfig/" + recipient;
  }
  std::string body;
  std::string method = "DELETE";
  if (!args.Has("delete")) {
    if (!args.Has("callback-url")) return Usage("pubconfig: give --callback-url URL, or --delete");
    method = "POST";
    body = "{\"callbackURL\":" + JsonQuote(args.Get("callback-url"));
    for (const auto& [option, field] : {std::pair<const char*, const char*>{"max-message-count",
                                                                            "maxMessageCount"},
                                        {"max-payload-size", "maxPayloadSize"}}) {
      if (!args.Has(option)) continue;
      std::string text = args.Get(option);  // `end` points into it
      char* end = nullptr;
      long n = strtol(text.c_str(), &end, 10);
      if (*end != '\0' || n <= 0) return Usage(std::string("--") + option + " must be a positive number");
      body += std::string(",\"") + field + "\":" + std::to_string(n);
    }
    body += "}";
    if (int rc = CheckApiBody(args, "WebhookConfig", body); rc != kExitOk) return rc;
  } else if (args.Has("callback-url")) {
    return Usage("pubconfig: --delete takes no --callback-url");
  }
  Caller caller;
  if (int rc = MakeCaller(args, &caller); rc != kExitOk) return rc;
  transport::Reply reply;
  if (int rc = Call(caller, method, path, body, &reply); rc != kExitOk) return rc;
  bool ok = reply.status >= 200 && reply.status < 300;
  std::cout << "HTTP " << reply.status << ": "
            << (ok ? (method == "POST" ? "webhook registered" : "webhook removed")
                   : "refused")
            << "\n";
  if (!reply.body.empty() && !ok) std::cout << reply.body.substr(0, 500) << "\n";
  return ok ? kExitOk : kExitRejected;
}

int ReplayCommand(int argc, char** argv, bool requeue) {
  const char* name = requeue ? "requeue" : "replay";
  Args args;
  if (auto parsed = args.Parse(argc, argv, kCallFlags); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown(With({"channel", "recipient", "from", "to", "event-code",
                                           "mpan", "version", "transaction-id", "out", "schemas"},
                                          kCallOptions));
  if (!unknown.empty()) return Usage(std::string(name) + ": unknown option --" + unknown);
  auto channel_option = PathSegment(args, "channel");
  if (!channel_option) return Usage(std::string(name) + ": " + channel_option.error().detail);
  auto recipient_option = PathSegment(args, "recipient");
  if (!recipient_option) return Usage(std::string(name) + ": " + recipient_option.error().detail);
  const std::string& channel = *channel_option;
  const std::string& recipient = *recipient_option;
  if (!args.Has("from") || !args.Has("to")) {
    return Usage(std::string(name) + ": --from and --to (e.g. 2026-11-30T00:00:00+00:00) are required");
  }
  auto nullable = [&](const char* option) {
    return args.Has(option) ? JsonQuote(args.Get(option)) : std::string("null");
  };
  std::string body = "{\"datetimeFrom\":" + JsonQuote(args.Get("from")) +
                     ",\"datetimeTo\":" + JsonQuote(args.Get("to")) +
                     ",\"eventCode\":" + nullable("event-code") + ",\"MPAN\":" + nullable("mpan") +
                     ",\"version\":" + nullable("version");
  std::vector<std::string> ids = args.All("transaction-id");
  if (!ids.empty()) {
    body += ",\"transactionIDs\":[";
    for (size_t i = 0; i < ids.size(); ++i) body += (i ? "," : "") + JsonQuote(ids[i]);
    body += "]";
  }
  body += "}";
  if (int rc = CheckApiBody(args, "MessageRequest", body); rc != kExitOk) return rc;
  Caller caller;
  if (int rc = MakeCaller(args, &caller); rc != kExitOk) return rc;
  transport::Reply reply;
  std::string path = "/dip-channel/" + channel + "/" + name + "/" + recipient;
  if (int rc = Call(caller, "POST", path, body, &reply); rc != kExitOk) return rc;
  bool ok = reply.status >= 200 && reply.status < 300;
  if (!ok) {
    PrintStandardResponse(reply, args.Get("format") == "json");
    return kExitRejected;
  }
  if (args.Has("out")) {
    std::ofstream out(args.Get("out"), std::ios::binary | std::ios::trunc);
    out << reply.body;
    if (!out.flush()) return Fail("cannot write " + args.Get("out"));
  }
  if (args.Get("format") == "json") {
    std::cout << reply.body << "\n";
    return kExitOk;
  }
  if (requeue) {
    std::cout << "HTTP " << reply.status << ": requeued; the DIP sends the messages to the "
              << "registered webhook again, flagged replayIndicator true\n";
    if (!reply.body.empty()) std::cout << reply.body.substr(0, 500) << "\n";
    return kExitOk;
  }
  auto replayed = dip::MessageArray::Parse(reply.body);
  if (!replayed) {
    std::cout << "HTTP " << reply.status << ": the answer is not a message array: "
              << replayed.error().detail << "\n";
    return kExitRejected;
  }
  std::cout << "HTTP " << reply.status << ": " << replayed->messages().size()
            << " messages replayed\n";
  for (const auto& m : replayed->messages()) {
    const dip::Envelope& e = m.envelope;
    std::cout << "  " << m.index << ": " << e.interface_id << " " << e.event_code
              << " transactionID " << e.transaction_id << " MPAN " << e.mpan_core
              << " replayIndicator "
              << (e.replay_indicator ? (*e.replay_indicator ? "true" : "false") : "absent")
              << "\n";
  }
  return kExitOk;
}

int StatusMessageCommand(int argc, char** argv) {
  Args args;
  if (auto parsed = args.Parse(argc, argv, kCallFlags); !parsed) return Usage(parsed.error().detail);
  std::string unknown = args.Unknown(With({"body", "schemas"}, kCallOptions));
  if (!unknown.empty()) return Usage("statusmessage: unknown option --" + unknown);
  if (!args.Has("body")) return Usage("statusmessage: --body FILE (a StandardResponseArray) is required");
  auto read = ReadInput(args.Get("body"));
  if (!read) return Fail("body file: " + read.error().detail);
  const std::string& body = *read;
  if (int rc = CheckApiBody(args, "StandardResponseArray", body); rc != kExitOk) return rc;
  Caller caller;
  if (int rc = MakeCaller(args, &caller); rc != kExitOk) return rc;
  transport::Reply reply;
  if (int rc = Call(caller, "POST", "/statusmessage", body, &reply); rc != kExitOk) return rc;
  PrintStandardResponse(reply, args.Get("format") == "json");
  return reply.status == 201 ? kExitOk : kExitRejected;
}

}  // namespace dipgate
