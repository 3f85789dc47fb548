// The DIP's per-interface JSON schemas, loaded at run time from the
// directory third_party/dip_api/convert.py writes (index.json, payload/*.json),
// and the check of a message against the schema of its interface and event
// code, with a precise answer: the reason word, the JSON pointer of the
// failing value, the schema keyword, the schema used.
//
// Order of the checks on each message (the first failure is the answer):
//   unknown_interface           S0.interfaceID is not an interface of the spec
//   channel_mismatch            it differs from the channel it was sent on
//   unknown_event_code          S0.eventCode is not an event of that interface
//   unsupported_schema_version  S0.schemaVersion is not one its schema accepts
//   environment_tag_mismatch    S1.environmentTag is not an expected one
//   bad_sender_unique_reference S1.senderUniqueReference fails its pattern/length
//   schema_invalid              anything else the schema refuses
//
// An event code listed by two schemas (IF-020 [RelatedAdd]) is valid when
// either accepts it; the error shown is the first one's.
//
// Built with RapidJSON's std::regex engine (RAPIDJSON_SCHEMA_USE_INTERNALREGEX=0):
// the internal engine of 1.1.0 knows no \d and silently drops such patterns.
#ifndef DIPGATE_COMMON_DIP_SCHEMA_H_
#define DIPGATE_COMMON_DIP_SCHEMA_H_

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/dip/message.h"
#include "common/result.h"

namespace dipgate::dip {

// The outcome of validating a message or an array of them.
struct SchemaVerdict {
  Reason reason = Reason::kOk;
  size_t message = 0;    // index of the failing message in the array
  std::string pointer;   // JSON pointer into the body of the failing value
  std::string keyword;   // the schema keyword that failed: required, enum, pattern...
  std::string schema;    // the schema checked against, e.g. IF-033-MSAppSPRequest
  std::string detail;    // what was wrong, for people
  bool ok() const { return reason == Reason::kOk; }
};

struct Expectations {
  // The channel the body was sent on or arrived for ("" = any).
  std::string channel;
  // Accepted S1.environmentTag values (empty = any the schema allows).
  std::vector<std::string> environment_tags;
};

class SchemaSet {
 public:
  // Loads and compiles every schema under `directory`. internal_error
  // naming the file when the directory, its index or a schema is unreadable
  // or not a schema.
  static Result<std::shared_ptr<const SchemaSet>> Load(const std::string& directory);

  ~SchemaSet();
  SchemaSet(const SchemaSet&) = delete;
  SchemaSet& operator=(const SchemaSet&) = delete;

  const std::string& spec_version() const { return spec_version_; }
  const std::string& directory() const { return directory_; }
  size_t schema_count() const { return schemas_.size(); }

  // Whether `id` is a channel (interface or report) of the spec.
  bool IsChannel(std::string_view id) const;
  // The schemas for an interface and event code (empty when unknown).
  std::vector<std::string> SchemasFor(std::string_view interface_id,
                                      std::string_view event_code) const;

  // Checks one message. Thread-safe: the set is immutable once loaded.
  SchemaVerdict Validate(const Message& message, const Expectations& expect = {}) const;
  // Checks every message, all or nothing: the first failure is the answer.
  SchemaVerdict Validate(const MessageArray& array, const Expectations& expect = {}) const;
  // Checks a body of the API itself against api/`name`.json (WebhookConfig,
  // MessageRequest, StandardResponseArray ...): schema_invalid with the
  // pointer, internal_error when the set has no such schema.
  SchemaVerdict ValidateApiBody(std::string_view name, const rapidjson::Value& body) const;

 private:
  struct Compiled;
  struct Event {
    std::vector<std::string> schemas;
    std::vector<std::string> versions;
  };
  SchemaSet() = default;
  SchemaVerdict Check(const Compiled& schema, const Message& message) const;
  static Result<std::unique_ptr<Compiled>> Compile(const std::string& path, const std::string& name);

  std::string directory_;
  std::string spec_version_;
  std::vector<std::string> channels_;
  std::map<std::string, std::map<std::string, Event, std::less<>>, std::less<>> interfaces_;
  std::map<std::string, std::unique_ptr<Compiled>, std::less<>> schemas_;
  std::map<std::string, std::unique_ptr<Compiled>, std::less<>> api_;
};

// The environmentTag values that go with a certificate environment:
// "prod" -> PRD; "nonprod" -> SITB, SIT, UIT, DEV; anything else -> none
// (any tag the schema allows).
std::vector<std::string> EnvironmentTagsFor(std::string_view environment);

}  // namespace dipgate::dip

#endif  // DIPGATE_COMMON_DIP_SCHEMA_H_
