#include "kafka_bridge/config.h"

#include <gtest/gtest.h>

#include "tests/fixtures.h"

namespace dipgate::bridge {
namespace {

using testing::PkiFile;

std::string Valid(const std::string& extra = "") {
  return R"({
    "kafka": {"bootstrap.servers": "127.0.0.1:9092", "group.id": "g", "session.timeout.ms": 6000},
    "identities": [{"name": "mp", "certificate": ")" + PkiFile("signer-rsa.pem") + R"(",
                    "key": ")" + PkiFile("signer-rsa.key") + R"(", "dip_ids": ["8795183096"]}],
    "routes": [{"topic": "dip-out", "url": "https://dip.example/api/{interfaceID}"}],
    "tls": {"client_certificate": ")" + PkiFile("tls-client.pem") + R"(",
            "client_key": ")" + PkiFile("tls-client.key") + R"(", "ca": ")" +
         PkiFile("ca-bundle.pem") + R"("},
    "api_key": {"primary": "p", "secondary": "s"},
    "dead_letter_topic": "dip-dlq")" + extra + "}";
}

// The error of a configuration that must be refused ("" if it was taken).
std::string ErrorOf(const std::string& json) {
  auto parsed = ParseConfig(json);
  EXPECT_FALSE(parsed.ok()) << json;
  return parsed.ok() ? "" : parsed.error().detail;
}

TEST(Config, ParsesAValidFile) {
  auto parsed = ParseConfig(Valid(R"(, "retry": {"initial_backoff_ms": 10, "max_backoff_ms": 100,
      "jitter_percent": 10, "max_attempts": 3}, "max_in_flight": 4)"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  const Config& c = *parsed;
  EXPECT_EQ(c.kafka.at("session.timeout.ms"), "6000");
  EXPECT_EQ(c.routes[0].url, "https://dip.example/api/{interfaceID}");
  EXPECT_EQ(c.identities[0].dip_ids[0], "8795183096");
  EXPECT_EQ(c.retry.max_attempts, 3);
  EXPECT_DOUBLE_EQ(c.retry.jitter, 0.1);
  EXPECT_EQ(c.max_in_flight, 4);
  EXPECT_EQ(c.api_key_secondary, "s");
}

TEST(Config, ErrorsNameTheKey) {
  struct Case {
    std::string json;
    const char* message;
  } cases[] = {
      {"not json", "config: (file): not valid JSON"},
      {"{}", "config: kafka: is required"},
      {Valid(R"(, "colour": "red")"), "config: colour: is not a known key"},
      {Valid(R"(, "max_in_flight": 0)"), "config: max_in_flight: must be between 1 and 100000"},
      {Valid(R"(, "max_in_flight": 2000)"), "config: max_buffered_messages: must not be below max_in_flight"},
      {Valid(R"(, "batch": {"max_messages": 0})"), "config: batch.max_messages: must be between 1"},
      {Valid(R"(, "batch": {"size": 3})"), "config: batch.size: is not a known key"},
      {Valid(R"(, "ordering": {"by": "colour"})"), "config: ordering.by: must be key or partition"},
      {Valid(R"(, "ordering": {"fallback_field": "transactionID"})"),
       "config: ordering.fallback_field: must be MPANCore or none"},
      {Valid(R"(, "dip_base_url": "http://dip.example")"), "config: dip_base_url: must be an https:// URL"},
      {Valid(R"(, "receipts_topic": "dip-out")"), "config: receipts_topic: must not be a routed topic"},
      {Valid(R"(, "retry": {"max_backoff_ms": "soon"})"), "config: retry.max_backoff_ms: must be an integer"},
      {Valid(R"(, "retry": {"initial_backoff_ms": 500, "max_backoff_ms": 100})"),
       "config: retry.max_backoff_ms: must not be below"},
      {Valid(R"(, "http2": "yes")"), "config: http2: must be true or false"},
  };
  for (const Case& c : cases) {
    std::string error = ErrorOf(c.json);
    EXPECT_EQ(error.rfind(c.message, 0), 0u) << error;
  }
  auto broken = [](std::string json, const std::string& from, const std::string& to) {
    json.replace(json.find(from), from.size(), to);
    return ErrorOf(json);
  };
  EXPECT_EQ(broken(Valid(), "\"group.id\": \"g\",", "").rfind("config: kafka.group.id: is required", 0), 0u);
  EXPECT_NE(broken(Valid(), "\"session.timeout.ms\"", "\"enable.auto.commit\"")
                .find("kafka.enable.auto.commit: is managed by the bridge"),
            std::string::npos);
  EXPECT_EQ(broken(Valid(), "https://dip.example", "http://dip.example")
                .rfind("config: routes[0].url: must be an https:// URL", 0),
            0u);
  EXPECT_EQ(broken(Valid(), "\"url\"", "\"identity\": \"ghost\", \"url\"")
                .rfind("config: routes[0].identity: names no identity: ghost", 0),
            0u);
  EXPECT_EQ(broken(Valid(), "\"dead_letter_topic\": \"dip-dlq\"", "\"dead_letter_topic\": \"dip-out\"")
                .rfind("config: dead_letter_topic: must not be a routed topic", 0),
            0u);
  EXPECT_EQ(broken(Valid(), PkiFile("ca-bundle.pem"), "/nonexistent/ca.pem")
                .rfind("config: tls.ca: cannot read /nonexistent/ca.pem: No such file or directory", 0),
            0u);
  EXPECT_EQ(broken(Valid(), "\"url\": \"https://dip.example/api/{interfaceID}\"", "\"identity\": \"mp\"")
                .rfind("config: routes[0].url: is required when there is no dip_base_url", 0),
            0u);
  EXPECT_EQ(broken(Valid(), "\"dead_letter_topic\": \"dip-dlq\"", "\"dead_letter_topic\": \"\"")
                .rfind("config: dead_letter_topic: must not be empty", 0),
            0u);
}

TEST(Config, DipApiRoutesBatchingAndOrdering) {
  std::string json = Valid(R"(, "dip_base_url": "https://dip.example/v1/", "batch": {"max_messages": 100,
      "max_bytes": 200000, "linger_ms": 20}, "ordering": {"by": "partition", "fallback_field": "none"},
      "receipts_topic": "dip-receipts", "signing_threads": 2, "max_connections": 4)");
  std::string from = R"("url": "https://dip.example/api/{interfaceID}")";
  json.replace(json.find(from), from.size(), R"("identity": "mp")");
  auto parsed = ParseConfig(json);
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  EXPECT_EQ(parsed->routes[0].url, "https://dip.example/v1/dip-channel/{interfaceID}");
  EXPECT_EQ(parsed->batch.max_messages, 100);
  EXPECT_EQ(parsed->batch.max_bytes, 200000);
  EXPECT_EQ(parsed->batch.linger_ms, 20);
  EXPECT_TRUE(parsed->ordering.by_partition);
  EXPECT_EQ(parsed->ordering.fallback_field, "none");
  EXPECT_EQ(parsed->receipts_topic, "dip-receipts");
  EXPECT_EQ(parsed->signing_threads, 2);
  EXPECT_EQ(parsed->max_connections, 4);
  // Defaults: one record per POST, ordered by key with MPANCore as fallback.
  auto defaults = ParseConfig(Valid());
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->batch.max_messages, 1);
  EXPECT_FALSE(defaults->ordering.by_partition);
  EXPECT_EQ(defaults->ordering.fallback_field, "MPANCore");
}

TEST(Config, AnUnreadablePassphraseFileFailsAtStart) {
  // A bug once: the bridge ignored it and failed every handshake later.
  std::string json = Valid();
  std::string from = R"("ca": ")";
  json.replace(json.find(from), from.size(),
               R"("client_key_passphrase_file": "/nonexistent/pass", "ca": ")");
  EXPECT_EQ(ErrorOf(json),
            "config: tls.client_key_passphrase_file: cannot read /nonexistent/pass: No such file or directory");
}

std::string InboundOnly(const std::string& inbound) {
  return R"({"kafka": {"bootstrap.servers": "127.0.0.1:9092"}, "inbound": )" + inbound + "}";
}

TEST(Config, InboundAloneNeedsNoRoutesOrIdentities) {
  auto parsed = ParseConfig(InboundOnly(R"({"listen": "unix:/run/dipgate/in.sock",
      "topic": "dip.in.{interfaceID}", "key": "transactionID", "participant_id": "0140321855",
      "duplicate_window_s": 600})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  const Config& c = *parsed;
  EXPECT_TRUE(c.inbound.enabled);
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.inbound.listen, "unix:/run/dipgate/in.sock");
  EXPECT_EQ(c.inbound.key_field, "transactionID");
  EXPECT_EQ(c.inbound.verified_header, "X-DIP-Verified");
  EXPECT_EQ(c.inbound.duplicate_window_s, 600);
  // Both directions in one bridge.
  auto both = ParseConfig(Valid(R"(, "inbound": {"listen": "127.0.0.1:8081", "topic": "in"})"));
  ASSERT_TRUE(both.ok()) << both.error().detail;
  EXPECT_TRUE(both->inbound.enabled);
  EXPECT_EQ(both->routes.size(), 1u);
}

TEST(Config, InboundErrorsNameTheKey) {
  struct Case {
    std::string json;
    const char* message;
  } cases[] = {
      {InboundOnly(R"({"topic": "t"})"), "config: inbound.listen: is required"},
      {InboundOnly(R"({"listen": "8081", "topic": "t"})"), "config: inbound.listen: must be host:port or unix:/path"},
      {InboundOnly(R"({"listen": "127.0.0.1:1", "topic": "t", "key": "colour"})"), "config: inbound.key: must be"},
      {InboundOnly(R"({"listen": "127.0.0.1:1", "topic": "t", "verified_header": ""})"),
       "config: inbound.verified_header: may be empty only when inbound.verify"},
      {InboundOnly(R"({"listen": "127.0.0.1:1", "topic": "t", "verify": {"crl": []}})"),
       "config: inbound.verify.ca: is required"},
      {InboundOnly(R"({"listen": "127.0.0.1:1", "topic": "t", "verify": {"ca": ["/nonexistent"]}})"),
       "config: inbound.verify.ca: cannot read /nonexistent: No such file or directory"},
      {InboundOnly(R"({"listen": "127.0.0.1:1", "topic": "t", "produce_timeout_ms": 5})"),
       "config: inbound.produce_timeout_ms: must be between 1000"},
      {R"({"kafka": {"bootstrap.servers": "b"}, "inbound": {"listen": "127.0.0.1:1", "topic": "t"},
          "dead_letter_topic": "d"})", "config: dead_letter_topic: belongs to outbound delivery"},
  };
  for (const Case& c : cases) {
    std::string error = ErrorOf(c.json);
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
  }
}

// A header is not proof of who sent it: a listener other hosts can reach
// must authenticate the hop (mutual TLS) or check the signatures itself.
TEST(Config, AnInboundListenerOthersCanReachMustAuthenticate) {
  for (const char* listen : {"0.0.0.0:39180", "192.0.2.7:39180"}) {
    std::string error = ErrorOf(InboundOnly(R"({"listen": ")" + std::string(listen) +
                                            R"(", "topic": "t"})"));
    EXPECT_NE(error.find(std::string("config: inbound.listen: '") + listen +
                         "' can be reached from other hosts"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("\"X-DIP-Verified: ok\""), std::string::npos) << error;
    EXPECT_NE(error.find("inbound.tls.client_ca"), std::string::npos) << error;
  }
  // Loopback and unix sockets stay as they were; an authenticated hop, or
  // the signature checked here, opens any address.
  for (const std::string& inbound :
       {std::string(R"({"listen": "127.0.0.1:39180", "topic": "t"})"),
        std::string(R"({"listen": "127.8.0.1:39180", "topic": "t"})"),
        std::string(R"({"listen": "unix:/run/in.sock", "topic": "t"})"),
        R"({"listen": "0.0.0.0:39180", "topic": "t", "verify": {"ca": [")" +
            PkiFile("ca-bundle.pem") + R"("]}})",
        R"({"listen": "0.0.0.0:39180", "topic": "t", "tls": {"certificate": ")" +
            PkiFile("tls-server.pem") + R"(", "key": ")" + PkiFile("tls-server.key") +
            R"(", "client_ca": ")" + PkiFile("ca-bundle.pem") + R"("}})"}) {
    auto parsed = ParseConfig(InboundOnly(inbound));
    EXPECT_TRUE(parsed.ok()) << inbound << ": " << parsed.error().detail;
  }
  // TLS without a client CA encrypts but authenticates no one.
  std::string https_only = ErrorOf(InboundOnly(
      R"({"listen": "0.0.0.0:39180", "topic": "t", "tls": {"certificate": ")" +
      PkiFile("tls-server.pem") + R"(", "key": ")" + PkiFile("tls-server.key") + R"("}})"));
  EXPECT_NE(https_only.find("can be reached from other hosts"), std::string::npos) << https_only;
  EXPECT_NE(ErrorOf(InboundOnly(R"({"listen": "0.0.0.0:1", "topic": "t", "tls": {"key": "k"}})"))
                .find("config: inbound.tls.certificate: is required"),
            std::string::npos);
  EXPECT_NE(ErrorOf(InboundOnly(R"({"listen": "unix:/x", "topic": "t", "tls": {}})"))
                .find("config: inbound.tls: is for a TCP listener"),
            std::string::npos);
  EXPECT_TRUE(IsLoopbackListen("127.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackListen("128.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackListen("localhost:1"));  // not an address the listener takes
}

// The HTTP loop keeps idle connections for each origin the routes reach.
TEST(Config, OriginsOfTheRoutes) {
  std::string json = Valid();
  std::string from = R"("routes": [{"topic": "dip-out", "url": "https://dip.example/api/{interfaceID}"}])";
  json.replace(json.find(from), from.size(), R"("dip_base_url": "https://dip.example", "routes": [
      {"topic": "a", "identity": "mp"}, {"topic": "b", "url": "https://dip.example/x/{interfaceID}"},
      {"topic": "c", "url": "https://other.example:8443/dip-channel/{interfaceID}"}])");
  auto parsed = ParseConfig(json);
  ASSERT_TRUE(parsed.ok()) << parsed.error().detail;
  EXPECT_EQ(Origins(*parsed),
            (std::set<std::string>{"https://dip.example", "https://other.example:8443"}));
}

TEST(Config, FillPlaceholderReplacesEveryOccurrence) {
  std::string url = "https://dip.example/dip-channel/{interfaceID}?c={interfaceID}";
  FillPlaceholder(&url, "{interfaceID}", "IF-033");
  EXPECT_EQ(url, "https://dip.example/dip-channel/IF-033?c=IF-033");
  std::string topic = "dip.in.{interfaceID}.{eventCode}";
  FillPlaceholder(&topic, "{eventCode}", "");
  EXPECT_EQ(topic, "dip.in.{interfaceID}.");
}

}  // namespace
}  // namespace dipgate::bridge
