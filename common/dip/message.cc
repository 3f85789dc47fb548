#include "common/dip/message.h"

#include <algorithm>
#include <cctype>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/ascii.h"

namespace dipgate::dip {
namespace {

// Nesting deeper than this is refused before RapidJSON's recursive parser
// and validator see it (no DIP schema nests beyond 10 levels).
constexpr int kMaxDepth = 64;

std::string String(const rapidjson::Value* v) {
  if (v == nullptr || !v->IsString()) return {};
  return std::string(v->GetString(), v->GetStringLength());
}

std::vector<std::string> Strings(const rapidjson::Value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->IsArray()) return out;
  for (const auto& item : v->GetArray()) {
    if (item.IsString()) out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

const rapidjson::Value* Path(const rapidjson::Value& root, const char* block, const char* field) {
  const rapidjson::Value* b = Member(root, block);
  return b == nullptr ? nullptr : Member(*b, field);
}

// The nesting depth of the text, counted without parsing; stops early.
bool DepthWithin(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace

const rapidjson::Value* Member(const rapidjson::Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  const rapidjson::Value* folded = nullptr;
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (key == name) return &it->value;
    if (folded == nullptr && EqualsNoCase(key, name)) {
      folded = &it->value;
    }
  }
  return folded;
}

bool IsSafeName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<Envelope> ReadEnvelope(const rapidjson::Value& payload) {
  const rapidjson::Value* common = Member(payload, "CommonBlock");
  if (common == nullptr || !common->IsObject()) {
    return Error{Reason::kMissingEnvelope, "the payload has no CommonBlock object"};
  }
  const rapidjson::Value* s0 = Member(*common, "S0");
  if (s0 == nullptr || !s0->IsObject()) {
    return Error{Reason::kMissingEnvelope, "the CommonBlock has no S0 block"};
  }
  Envelope e;
  e.interface_id = String(Member(*s0, "interfaceID"));
  if (e.interface_id.empty()) {
    return Error{Reason::kMissingEnvelope, "CommonBlock.S0.interfaceID is missing or not a string"};
  }
  e.event_code = String(Member(*s0, "eventCode"));
  e.schema_version = String(Member(*s0, "schemaVersion"));
  e.environment_tag = String(Path(*common, "S1", "environmentTag"));
  e.sender_unique_reference = String(Path(*common, "S1", "senderUniqueReference"));
  e.sender_timestamp = String(Path(*common, "S1", "senderTimestamp"));
  e.sender_dip_id = String(Path(*common, "S1", "senderDIPID"));
  e.sender_role_id = String(Path(*common, "S1", "senderRoleID"));
  e.sender_correlation_id = String(Path(*common, "S1", "senderCorrelationID"));
  e.connection_provider_id = String(Path(*common, "S1", "DIPConnectionProviderID"));
  e.mpan_core = String(Path(*common, "M0", "MPANCore"));
  e.primary_recipients = Strings(Path(*common, "A0", "primaryRecipients"));
  e.secondary_recipients = Strings(Path(*common, "A0", "secondaryRecipients"));
  e.always_recipients = Strings(Path(*common, "A0", "always"));
  if (const rapidjson::Value* d0 = Member(*common, "D0"); d0 != nullptr && d0->IsObject()) {
    e.has_d0 = true;
    e.transaction_id = String(Member(*d0, "transactionID"));
    e.publication_id = String(Member(*d0, "publicationID"));
    const rapidjson::Value* replay = Member(*d0, "replayIndicator");
    if (replay != nullptr && replay->IsBool()) e.replay_indicator = replay->GetBool();
  }
  return e;
}

Result<MessageArray> MessageArray::Parse(std::string_view body, const ParseOptions& options) {
  if (!DepthWithin(body, kMaxDepth)) {
    return Error{Reason::kInvalidJson,
                 "the body nests deeper than " + std::to_string(kMaxDepth) + " levels"};
  }
  // In place parsing stops at a NUL; JSON text has none outside strings,
  // where it is escaped, so one anywhere is refused (a producer counting
  // a C string's terminator in the record's length sees invalid_json).
  // An empty body may have no data pointer at all (a Kafka tombstone).
  if (size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return Error{Reason::kInvalidJson, "a NUL byte at offset " + std::to_string(nul)};
  }
  MessageArray out;
  out.parsed_ = std::make_unique<Parsed>();
  out.parsed_->text.reset(new char[body.size() + 1]);
  std::copy(body.begin(), body.end(), out.parsed_->text.get());
  out.parsed_->text[body.size()] = '\0';
  rapidjson::Document& doc = out.parsed_->doc;
  doc.ParseInsitu(out.parsed_->text.get());
  if (doc.HasParseError()) {
    return Error{Reason::kInvalidJson, std::string(rapidjson::GetParseError_En(doc.GetParseError())) +
                                           " at offset " + std::to_string(doc.GetErrorOffset())};
  }
  auto add = [&](size_t index, const rapidjson::Value& payload,
                 std::string pointer) -> std::optional<Error> {
    if (!payload.IsObject()) {
      return Error{Reason::kNotMessageArray,
                   "message " + std::to_string(index) + ": the payload is not an object"};
    }
    auto envelope = ReadEnvelope(payload);
    if (!envelope) {
      return Error{envelope.reason(),
                   "message " + std::to_string(index) + ": " + envelope.error().detail};
    }
    out.messages_.push_back(Message{index, &payload, std::move(*envelope), std::move(pointer)});
    return std::nullopt;
  };
  if (doc.IsObject()) {
    if (!options.allow_bare_payload) {
      return Error{Reason::kNotMessageArray,
                   "the body is an object; the DIP takes an array of messages "
                   "[{\"payload\": {...}}, ...]"};
    }
    const rapidjson::Value* payload = Member(doc, "payload");
    if (payload != nullptr && Member(doc, "CommonBlock") == nullptr) {
      out.form_ = BodyForm::kMessage;
      if (auto e = add(0, *payload, "/payload")) return *e;
    } else {
      out.form_ = BodyForm::kPayload;
      if (auto e = add(0, doc, "")) return *e;
    }
    return out;
  }
  if (!doc.IsArray()) {
    return Error{Reason::kNotMessageArray, "the body is neither an array of messages nor an object"};
  }
  if (doc.Empty()) return Error{Reason::kNotMessageArray, "the message array is empty"};
  if (doc.Size() > options.max_messages) {
    return Error{Reason::kNotMessageArray, "the array holds " + std::to_string(doc.Size()) +
                                               " messages, more than the limit of " +
                                               std::to_string(options.max_messages)};
  }
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const rapidjson::Value& element = doc[i];
    const rapidjson::Value* payload = element.IsObject() ? Member(element, "payload") : nullptr;
    if (payload == nullptr) {
      return Error{Reason::kNotMessageArray,
                   "message " + std::to_string(i) + ": not an object with a \"payload\" member"};
    }
    if (auto e = add(i, *payload, "/" + std::to_string(i) + "/payload")) return *e;
  }
  return out;
}

std::string MessageArray::ArrayJson() const {
  switch (form_) {
    case BodyForm::kArray: return ToJson(document());
    case BodyForm::kMessage: return "[" + ToJson(document()) + "]";
    case BodyForm::kPayload: break;
  }
  return "[{\"payload\":" + ToJson(document()) + "}]";
}

std::string MessageArray::PayloadJson(size_t index) const {
  return ToJson(*messages_.at(index).payload);
}

}  // namespace dipgate::dip
