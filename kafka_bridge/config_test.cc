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

TEST(Config, ParsesAValidFile) {
  Config c;
  std::string error;
  ASSERT_TRUE(ParseConfig(Valid(R"(, "retry": {"initial_backoff_ms": 10, "max_backoff_ms": 100,
      "jitter_percent": 10, "max_attempts": 3}, "max_in_flight": 4)"), &c, &error))
      << error;
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
      {Valid(R"(, "max_in_flight": 0)"), "config: max_in_flight: must be between 1 and 1024"},
      {Valid(R"(, "retry": {"max_backoff_ms": "soon"})"), "config: retry.max_backoff_ms: must be an integer"},
      {Valid(R"(, "retry": {"initial_backoff_ms": 500, "max_backoff_ms": 100})"),
       "config: retry.max_backoff_ms: must not be below"},
      {Valid(R"(, "http2": "yes")"), "config: http2: must be true or false"},
  };
  for (const Case& c : cases) {
    Config out;
    std::string error;
    EXPECT_FALSE(ParseConfig(c.json, &out, &error));
    EXPECT_EQ(error.rfind(c.message, 0), 0u) << error;
  }
  auto broken = [](std::string json, const std::string& from, const std::string& to) {
    json.replace(json.find(from), from.size(), to);
    Config out;
    std::string error;
    EXPECT_FALSE(ParseConfig(json, &out, &error)) << json;
    return error;
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
                .rfind("config: tls.ca: cannot read file /nonexistent/ca.pem", 0),
            0u);
  EXPECT_EQ(broken(Valid(), "\"dead_letter_topic\": \"dip-dlq\"", "\"dead_letter_topic\": \"\"")
                .rfind("config: dead_letter_topic: must not be empty", 0),
            0u);
}

}  // namespace
}  // namespace dipgate::bridge

namespace dipgate::bridge {
namespace {

std::string InboundOnly(const std::string& inbound) {
  return R"({"kafka": {"bootstrap.servers": "127.0.0.1:9092"}, "inbound": )" + inbound + "}";
}

TEST(Config, InboundAloneNeedsNoRoutesOrIdentities) {
  Config c;
  std::string error;
  ASSERT_TRUE(ParseConfig(InboundOnly(R"({"listen": "unix:/run/dipgate/in.sock",
      "topic": "dip.in.{interfaceID}", "key": "transactionID", "participant_id": "0140321855",
      "duplicate_window_s": 600})"), &c, &error)) << error;
  EXPECT_TRUE(c.inbound.enabled);
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.inbound.listen, "unix:/run/dipgate/in.sock");
  EXPECT_EQ(c.inbound.key_field, "transactionID");
  EXPECT_EQ(c.inbound.verified_header, "X-DIP-Verified");
  EXPECT_EQ(c.inbound.duplicate_window_s, 600);
  // Both directions in one bridge.
  Config both;
  ASSERT_TRUE(ParseConfig(Valid(R"(, "inbound": {"listen": "127.0.0.1:8081", "topic": "in"})"),
                          &both, &error)) << error;
  EXPECT_TRUE(both.inbound.enabled);
  EXPECT_EQ(both.routes.size(), 1u);
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
       "config: inbound.verify.ca: cannot read file /nonexistent"},
      {InboundOnly(R"({"listen": "127.0.0.1:1", "topic": "t", "produce_timeout_ms": 5})"),
       "config: inbound.produce_timeout_ms: must be between 1000"},
      {R"({"kafka": {"bootstrap.servers": "b"}, "inbound": {"listen": "127.0.0.1:1", "topic": "t"},
          "dead_letter_topic": "d"})", "config: dead_letter_topic: belongs to outbound delivery"},
  };
  for (const Case& c : cases) {
    Config config;
    std::string error;
    EXPECT_FALSE(ParseConfig(c.json, &config, &error)) << c.json;
    EXPECT_NE(error.find(c.message), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace dipgate::bridge
