#include "common/dip/message.h"

#include <algorithm>
#include <cctype>
#include <cmath>

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

// Where one object near the root lies in the text: at depth 1 (an element
// of the root array, or a member of the root object) `i` is its position;
// at depth 2, `i` is its parent's and `j` its own. [begin, end) in bytes.
struct Spot {
  size_t i = 0, j = 0;
  size_t begin = 0, end = 0;
  bool operator<(const Spot& o) const { return i != o.i ? i < o.i : j < o.j; }
};

// Builds the document from the reader's events, as Document::ParseInsitu
// does, and notes on the way where the objects of depth 1 and 2 begin and
// end in the text (the reader calls StartObject just after taking the '{'
// and EndObject just after the '}', on the stream it was given), and the
// JSON pointer of a number beyond a double's range, which it refuses.
class Recorder {
 public:
  using Ch = char;
  Recorder(rapidjson::Document* doc, rapidjson::InsituStringStream* stream)
      : doc_(doc), stream_(stream) {}

  bool Null() { return Value() && doc_->Null(); }
  bool Bool(bool b) { return Value() && doc_->Bool(b); }
  bool Int(int i) { return Value() && doc_->Int(i); }
  bool Uint(unsigned u) { return Value() && doc_->Uint(u); }
  bool Int64(int64_t i) { return Value() && doc_->Int64(i); }
  bool Uint64(uint64_t u) { return Value() && doc_->Uint64(u); }
  bool Double(double d) {
    Value();
    if (!std::isfinite(d)) {
      out_of_range_ = Pointer(true);
      return false;
    }
    return doc_->Double(d);
  }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Value() && doc_->RawNumber(s, n, copy);
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Value() && doc_->String(s, n, copy);
  }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    Frame& f = frames_.back();
    f.key = std::string_view(s, n);  // in place: stays in the text
    ++f.count;
    return doc_->Key(s, n, copy);
  }
  bool StartObject() { return Open(false) && doc_->StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return Close() && doc_->EndObject(n); }
  bool StartArray() { return Open(true) && doc_->StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return Close() && doc_->EndArray(n); }

  const std::string& out_of_range() const { return out_of_range_; }
  // RFC 6901: '~' as ~0, '/' as ~1. `begun`: the value being read was
  // counted (a handler call); false when the reader failed before the call.
  std::string Pointer(bool begun) const {
    std::string out;
    for (size_t k = 0; k < frames_.size(); ++k) {
      const Frame& f = frames_[k];
      out += '/';
      if (f.array) {
        out += std::to_string(f.count - (begun || k + 1 < frames_.size() ? 1 : 0));
        continue;
      }
      for (char c : f.key) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
      }
    }
    return out.empty() ? "/" : out;
  }
  // Sorted: the objects of one depth close in the text's order.
  const std::vector<Spot>& depth1() const { return depth1_; }
  const std::vector<Spot>& depth2() const { return depth2_; }

 private:
  struct Frame {
    bool array = false;
    size_t count = 0;  // elements or members begun so far
    std::string_view key;
    size_t begin = 0;
  };

  // A value begins: in an array it is the next element.
  bool Value() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().count;
    return true;
  }
  bool Open(bool array) {
    Value();
    frames_.push_back(Frame{array, 0, {}, stream_->Tell() - 1});
    return true;
  }
  bool Close() {
    const Frame& f = frames_.back();
    size_t depth = frames_.size() - 1;
    if (!f.array && (depth == 1 || depth == 2)) {
      Spot s;
      s.i = frames_[0].count - 1;
      if (depth == 2) s.j = frames_[1].count - 1;
      s.begin = f.begin;
      s.end = stream_->Tell();
      (depth == 1 ? depth1_ : depth2_).push_back(s);
    }
    frames_.pop_back();
    return true;
  }
  rapidjson::Document* doc_;
  rapidjson::InsituStringStream* stream_;
  std::vector<Frame> frames_;
  std::vector<Spot> depth1_, depth2_;
  std::string out_of_range_;
};

// The position of member `value` among `object`'s members.
size_t Ordinal(const rapidjson::Value& object, const rapidjson::Value* value) {
  size_t j = 0;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it, ++j) {
    if (&it->value == value) return j;
  }
  return j;
}

// The slice of `spots` at (i, j); empty when absent (cannot happen for an
// object the parse saw).
std::optional<Spot> Find(const std::vector<Spot>& spots, size_t i, size_t j) {
  Spot key;
  key.i = i;
  key.j = j;
  auto it = std::lower_bound(spots.begin(), spots.end(), key);
  if (it == spots.end() || it->i != i || it->j != j) return std::nullopt;
  return *it;
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
  Parsed& parsed = *out.parsed_;
  parsed.size = body.size();
  parsed.text.reset(new char[2 * body.size() + 1]);
  std::copy(body.begin(), body.end(), parsed.text.get());
  parsed.text[body.size()] = '\0';
  std::copy(body.begin(), body.end(), parsed.text.get() + body.size() + 1);
  rapidjson::Document& doc = parsed.doc;
  rapidjson::InsituStringStream stream(parsed.text.get());
  Recorder recorder(&doc, &stream);
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document&) {
    rapidjson::Reader reader;
    result = reader.Parse<rapidjson::kParseInsituFlag>(stream, recorder);
    return !result.IsError();
  };
  doc.Populate(generate);
  // Beyond a double's range: read as infinity (refused by the recorder),
  // or refused by the reader itself for some spellings.
  std::string out_of_range = recorder.out_of_range();
  if (out_of_range.empty() && result.Code() == rapidjson::kParseErrorNumberTooBig) {
    out_of_range = recorder.Pointer(false);
  }
  if (!out_of_range.empty()) {
    return Error{Reason::kInvalidJson, "a number beyond the range of a double at " +
                                           out_of_range + " (offset " +
                                           std::to_string(result.Offset()) + ")"};
  }
  if (result.IsError()) {
    return Error{Reason::kInvalidJson, std::string(rapidjson::GetParseError_En(result.Code())) +
                                           " at offset " + std::to_string(result.Offset())};
  }
  auto add = [&](size_t index, const rapidjson::Value& payload, std::string pointer,
                 std::optional<Spot> spot) -> std::optional<Error> {
    if (!payload.IsObject()) {
      return Error{Reason::kNotMessageArray,
                   "message " + std::to_string(index) + ": the payload is not an object"};
    }
    if (!spot) {  // every object's place is noted: not reached
      return Error{Reason::kInternalError,
                   "message " + std::to_string(index) + ": its payload's place in the body was not seen"};
    }
    Span span{spot->begin, spot->end};
    auto envelope = ReadEnvelope(payload);
    if (!envelope) {
      return Error{envelope.reason(),
                   "message " + std::to_string(index) + ": " + envelope.error().detail};
    }
    out.messages_.push_back(Message{index, &payload, std::move(*envelope), std::move(pointer)});
    out.payloads_.push_back(span);
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
      if (auto e = add(0, *payload, "/payload", Find(recorder.depth1(), Ordinal(doc, payload), 0))) {
        return *e;
      }
    } else {
      out.form_ = BodyForm::kPayload;
      std::string_view whole = TrimJsonSpace(out.text());
      Spot all;
      all.begin = static_cast<size_t>(whole.data() - out.text().data());
      all.end = all.begin + whole.size();
      if (auto e = add(0, doc, "", all)) return *e;
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
    if (auto e = add(i, *payload, "/" + std::to_string(i) + "/payload",
                     Find(recorder.depth2(), i, Ordinal(element, payload)))) {
      return *e;
    }
  }
  return out;
}

std::string MessageArray::ArrayJson() const {
  std::string_view body = TrimJsonSpace(text());
  switch (form_) {
    case BodyForm::kArray: return std::string(text());
    case BodyForm::kMessage: return "[" + std::string(body) + "]";
    case BodyForm::kPayload: break;
  }
  return "[{\"payload\":" + std::string(body) + "}]";
}

std::string_view MessageArray::PayloadText(size_t index) const {
  const Span& s = payloads_.at(index);
  return text().substr(s.begin, s.end - s.begin);
}

}  // namespace dipgate::dip
