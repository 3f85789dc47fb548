// DIP message bodies: the message arrays of the DIP's HTTP API and the
// envelope fields components route and check by.
//
//   ingress  POST /dip-channel/{id}   DIPMessageArray        [{"payload": {...}}, ...]
//   egress   webhook callback         DIPMessageEgressArray  same shape, each payload
//                                                            with a CommonBlock.D0
//
// A payload is {"CommonBlock": {S0, S1, M0, A0, D0 ...}, "CustomBlock": {...}}
// (third_party/dip_api/RealCommonBlocks-unresolved.yaml). Some senders hand
// over a bare payload, or one {"payload": ...} object; with
// `allow_bare_payload` either parses as one message and ArrayJson() wraps it
// the way the DIP requires.
//
// What dipgate passes on is what it received: each message's payload is
// known as the exact slice of the body it came in (PayloadText), and the
// wrapped array is spliced from the body's text, never re-serialised. A
// number no double can hold (1e400) is refused at parse (invalid_json, with
// its JSON pointer): RapidJSON would read it as infinity and write it half.
//
// Field names are matched exactly, and case-insensitively when the exact
// name is absent: the DIP does not enforce the capitalisation of field names
// on ingress (SubmitEvents, "note on use of upper/lower case"), so routing
// works for what the DIP accepts; the schema check stays exact.
#ifndef DIPGATE_COMMON_DIP_MESSAGE_H_
#define DIPGATE_COMMON_DIP_MESSAGE_H_

#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dipgate::dip {

// The CommonBlock fields of one payload; empty (or nullopt) when absent or
// not a string (boolean).
struct Envelope {
  // S0: what the message is
  std::string interface_id;    // S0.interfaceID, e.g. "IF-033"
  std::string event_code;      // S0.eventCode, e.g. "[MSAppSPRequest]"
  std::string schema_version;  // S0.schemaVersion, e.g. "011"
  // S1: who sent it
  std::string environment_tag;          // S1.environmentTag: PRD, SITB, SIT, UIT, DEV
  std::string sender_unique_reference;  // S1.senderUniqueReference
  std::string sender_timestamp;         // S1.senderTimestamp
  std::string sender_dip_id;            // S1.senderDIPID
  std::string sender_role_id;           // S1.senderRoleID
  std::string sender_correlation_id;    // S1.senderCorrelationID
  std::string connection_provider_id;   // S1.DIPConnectionProviderID
  // M0: the metering point
  std::string mpan_core;  // M0.MPANCore
  // A0: who receives it
  std::vector<std::string> primary_recipients;
  std::vector<std::string> secondary_recipients;
  std::vector<std::string> always_recipients;
  // D0: set by the DIP on messages it delivers (egress)
  bool has_d0 = false;
  std::string transaction_id;              // D0.transactionID
  std::string publication_id;              // D0.publicationID
  std::optional<bool> replay_indicator;    // D0.replayIndicator
};

struct Message {
  size_t index = 0;                            // position in the array
  const rapidjson::Value* payload = nullptr;   // owned by the MessageArray
  Envelope envelope;
  // JSON pointer of the payload in the body: "/3/payload", or "" for a bare one.
  std::string pointer;
};

// How the body held its messages.
enum class BodyForm {
  kArray,    // [{"payload": {...}}, ...], as the DIP's API defines it
  kMessage,  // {"payload": {...}}: one message not in an array
  kPayload,  // {"CommonBlock": ..., "CustomBlock": ...}: a bare payload
};

struct ParseOptions {
  bool allow_bare_payload = false;  // accept kMessage and kPayload bodies as one message
  size_t max_messages = 10000;      // more is refused (not_message_array)
};

// A parsed body. Movable; the messages' payload pointers stay valid.
class MessageArray {
 public:
  // invalid_json, not_message_array or missing_envelope (with the index of
  // the message and what is missing) when the body is not a DIP message array.
  static Result<MessageArray> Parse(std::string_view body, const ParseOptions& options = {});

  BodyForm form() const { return form_; }
  const std::vector<Message>& messages() const { return messages_; }
  const rapidjson::Document& document() const { return parsed_->doc; }
  // The body as received.
  std::string_view text() const { return {parsed_->original(), parsed_->size}; }

  // The body as a DIPMessageArray, spliced from the received text: an array
  // as it came, {"payload": ...} as [ it ], a bare payload as
  // [{"payload": it }] (surrounding whitespace dropped).
  std::string ArrayJson() const;
  // One message's payload: the exact bytes of the body that held it.
  std::string_view PayloadText(size_t index) const;

 private:
  // The document is parsed in place (RapidJSON's insitu mode: strings are
  // unescaped where they are and not copied, about twice as fast for a
  // message's many short strings), so it points into `text`, a copy of the
  // body; both move together. The values come from a pool that starts
  // small (a message's few hundred values), not RapidJSON's 64 KiB default.
  // `text` holds both: the copy parsed in place (size + 1 bytes, NUL
  // ended), then the body as received (size bytes), for the slices.
  struct Parsed {
    std::unique_ptr<char[]> text;
    size_t size = 0;
    rapidjson::MemoryPoolAllocator<> pool{8192};
    rapidjson::Document doc{&pool};
    const char* original() const { return text.get() + size + 1; }
  };
  std::unique_ptr<Parsed> parsed_;
  std::vector<Message> messages_;
  // Per message: where its payload is in the received body.
  struct Span {
    size_t begin = 0, end = 0;
  };
  std::vector<Span> payloads_;
  BodyForm form_ = BodyForm::kArray;
};

// Reads the envelope of one payload (an object with a CommonBlock);
// missing_envelope when there is no CommonBlock.S0.interfaceID string.
Result<Envelope> ReadEnvelope(const rapidjson::Value& payload);

// `v`'s member `name`: the exact name, else the first case-insensitive
// match; nullptr when `v` is not an object or has neither.
const rapidjson::Value* Member(const rapidjson::Value& v, std::string_view name);

// True when `name` is not empty and only letters, digits, '-', '_' and
// '.': safe as a URL path segment and in a Kafka topic name (an
// interfaceID or event code placed in either).
bool IsSafeName(std::string_view name);

// A JSON value as compact text.
std::string ToJson(const rapidjson::Value& v);

}  // namespace dipgate::dip

#endif  // DIPGATE_COMMON_DIP_MESSAGE_H_
