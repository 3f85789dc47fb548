// The bridge's configuration file (JSON), validated at start: every error
// names the key. See docs/kafka-bridge.md for the reference.
#ifndef DIPGATE_KAFKA_BRIDGE_CONFIG_H_
#define DIPGATE_KAFKA_BRIDGE_CONFIG_H_

#include <cstdint>
#include <netinet/in.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/dip/schema.h"
#include "common/result.h"
#include "common/signer.h"

namespace dipgate::bridge {

struct Route {
  std::string topic;
  // Where its messages go: {interfaceID} is replaced by the channel. Routes
  // without a url POST to {dip_base_url}/dip-channel/{interfaceID}, the DIP's API.
  std::string url;
  std::string identity;  // empty: chosen by CommonBlock.S1.senderDIPID
};

struct IdentityConfig {
  KeySource source;
  std::vector<std::string> dip_ids;  // senderDIPIDs this identity signs for
};

// Several records of one channel and identity in one DIPMessageArray (one
// signature per POST). The DIP validates an array all or nothing: a refused
// batch is split until the refused record is alone.
struct BatchPolicy {
  int max_messages = 1;          // records per POST; 1: no batching
  int64_t max_bytes = 512 * 1024;  // body size of a POST
  int64_t linger_ms = 0;         // wait this long for a batch to fill
};

// Which messages keep their order: those with the same key (the Kafka key;
// when it is empty, the envelope field `fallback_field`). Different keys are
// delivered concurrently.
struct OrderingPolicy {
  bool by_partition = false;  // "partition": one key per partition (one message at a time)
  std::string fallback_field = "MPANCore";  // MPANCore or none
};

struct RetryPolicy {
  int64_t initial_backoff_ms = 500;
  int64_t max_backoff_ms = 60000;  // the CoCo 4.3.2 "maximum wait"
  double jitter = 0.2;             // +-20%
  int max_attempts = 0;            // 0: retry until delivered (never dead-letter)
};

// Verified DIP webhooks -> Kafka (docs/kafka-bridge.md, "Inbound").
struct InboundConfig {
  bool enabled = false;
  // "host:port" or "unix:/path/to/socket". A listener other hosts can
  // reach (not loopback, not a unix socket) must authenticate what it
  // takes: `tls_client_ca` (mutual TLS from nginx) or `verify_ca` (the
  // signatures checked here); the configuration is refused otherwise.
  std::string listen;
  // HTTPS on the listener (PEM files); with `tls_client_ca`, every request
  // must come with a client certificate that chains to it.
  std::string tls_certificate, tls_key, tls_client_ca;
  // Topic per message: {interfaceID} and {eventCode} (brackets dropped)
  // are replaced, e.g. "dip.in.{interfaceID}".
  std::string topic;
  // The record key: an envelope field (MPANCore, transactionID,
  // senderUniqueReference, interfaceID) or "none".
  std::string key_field = "MPANCore";
  // A request counts as verified by nginx when this header is "ok"
  // (proxy_set_header X-DIP-Verified $dip_verify_status). Empty: not
  // required (only with `verify` below).
  std::string verified_header = "X-DIP-Verified";
  std::string signer_header = "X-DIP-Signer";  // its value goes to dip.signer
  // Verify the X-DIP headers again here, with these CAs and CRLs; the URL
  // the DIP signed comes from `destination_header`.
  std::vector<std::string> verify_ca, verify_crl;
  std::string verify_environment = "any";
  std::string destination_header = "X-DIP-Destination";
  std::string participant_id;  // senderID of our StandardResponse entries
  std::string schemas;         // validate every message against these (optional)
  int64_t max_body = 4 << 20;
  int64_t duplicate_window_s = 86400;   // a transactionID seen within this is not produced again
  int64_t duplicate_capacity = 1000000;
  int64_t produce_timeout_ms = 15000;   // Kafka must acknowledge within this, else 503
  int64_t retry_after_s = 30;
  int64_t max_connections = 64;
};

// True for an IPv4 loopback address (127.0.0.0/8), and for "host:port"
// with one.
bool IsLoopback(const in_addr& address);
bool IsLoopbackListen(const std::string& listen);

struct Config {
  std::map<std::string, std::string> kafka;  // librdkafka properties, passed through
  std::vector<Route> routes;
  std::vector<IdentityConfig> identities;
  // mTLS to the DIP
  std::string client_certificate, client_key, client_key_passphrase_file, ca_file;
  std::string tls_min_version = "1.2";  // "1.2" or "1.3"
  // X-API-KEY: the primary is used; after a 401/403 the secondary is tried.
  std::string api_key_primary, api_key_secondary;
  int64_t connect_timeout_ms = 10000;
  int64_t request_timeout_ms = 30000;
  RetryPolicy retry;
  std::string dead_letter_topic;
  std::string dip_base_url;      // e.g. https://dip.example (routes without a url)
  std::string receipts_topic;    // a receipt per delivered message ("" = none)
  std::string schemas;           // validate before sending ("" = the DIP checks)
  BatchPolicy batch;
  OrderingPolicy ordering;
  int max_in_flight = 64;            // records taken and not yet done (all partitions)
  int max_buffered_messages = 1000;  // fetched, not done; shared by the assigned partitions
  int signing_threads = 0;           // 0: one per core
  int max_connections = 64;          // per DIP host: HTTP/1.1 needs one per POST in flight
  int64_t expect_continue_bytes = 65536;  // POST bodies this large wait for 100 Continue (0: never)
  std::string metrics_listen = "127.0.0.1:9464";
  int64_t shutdown_timeout_ms = 15000;
  bool http2 = true;
  InboundConfig inbound;
};

// The librdkafka properties of `kafka` that apply to a producer (the
// consumer-only ones left out).
std::map<std::string, std::string> ProducerProperties(const std::map<std::string, std::string>& kafka);

// The origins ("https://host:port") the routes' URLs point to.
std::set<std::string> Origins(const Config& config);

// Fills the placeholder of a configured template (a route's url, the
// inbound topic): every `placeholder` in `text` ("{interfaceID}") becomes
// `value`.
void FillPlaceholder(std::string* text, std::string_view placeholder, std::string_view value);

// A schema directory the configuration names (`key`: "schemas",
// "inbound.schemas"), loaded and compiled as at start; the error names the
// key. Used at start and by --check.
Result<std::shared_ptr<const dip::SchemaSet>> LoadSchemas(const char* key, const std::string& dir);

// Parses and validates; files it names must be readable. Errors
// (internal_error): "config: <key>: <why>".
Result<Config> LoadConfig(const std::string& path);
Result<Config> ParseConfig(const std::string& json);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_CONFIG_H_
