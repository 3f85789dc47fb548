#include "common/dip/response.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

#include "common/dip/codes.h"

namespace dipgate::dip {
namespace {

using Field = std::optional<std::string> ResponseEntry::*;

// The spec's field names, in the spec's order.
constexpr std::pair<const char*, Field> kFields[] = {
    {"transactionID", &ResponseEntry::transaction_id},
    {"senderUniqueReference", &ResponseEntry::sender_unique_reference},
    {"correlationID", &ResponseEntry::correlation_id},
    {"sentTimestamp", &ResponseEntry::sent_timestamp},
    {"senderID", &ResponseEntry::sender_id},
    {"recipientID", &ResponseEntry::recipient_id},
    {"DIPConnectionProviderID", &ResponseEntry::connection_provider_id},
    {"message", &ResponseEntry::message},
    {"help", &ResponseEntry::help},
    {"serviceTicketURL", &ResponseEntry::service_ticket_url},
};

void Write(rapidjson::Writer<rapidjson::StringBuffer>& w, const std::optional<std::string>& v) {
  if (v) {
    w.String(v->data(), static_cast<rapidjson::SizeType>(v->size()));
  } else {
    w.Null();
  }
}

std::optional<std::string> Text(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

}  // namespace

std::string_view ResponseEntry::code() const {
  return message ? CodeOf(*message) : std::string_view();
}

std::string ToJson(const StandardResponse& response) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("messageArray");
  w.StartArray();
  for (const ResponseEntry& e : response.entries) {
    w.StartObject();
    for (const auto& [name, field] : kFields) {
      w.Key(name);
      Write(w, e.*field);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("timestamp");
  Write(w, response.timestamp);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<StandardResponse> ParseStandardResponse(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Error{Reason::kNotMessageArray, "the answer is not a JSON object (StandardResponse)"};
  }
  StandardResponse out;
  if (const rapidjson::Value* ts = Member(doc, "timestamp"); ts && ts->IsString()) {
    out.timestamp = ts->GetString();
  }
  const rapidjson::Value* array = Member(doc, "messageArray");
  if (array == nullptr || array->IsNull()) return out;
  if (!array->IsArray()) {
    return Error{Reason::kNotMessageArray, "the answer's messageArray is not an array"};
  }
  for (const auto& item : array->GetArray()) {
    if (!item.IsObject()) {
      return Error{Reason::kNotMessageArray, "an entry of the answer's messageArray is not an object"};
    }
    ResponseEntry e;
    for (const auto& [name, field] : kFields) {
      const rapidjson::Value* v = Member(item, name);
      if (v != nullptr && v->IsString()) e.*field = std::string(v->GetString(), v->GetStringLength());
    }
    out.entries.push_back(std::move(e));
  }
  return out;
}

std::string BodyTimestamp(UnixMillis t) {
  time_t seconds = static_cast<time_t>(t / 1000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

ResponseEntry EntryFor(const Envelope& e, std::string_view code, std::string_view responder_id,
                       std::string_view help) {
  ResponseEntry r;
  r.transaction_id = Text(e.transaction_id);
  r.sender_unique_reference = Text(e.sender_unique_reference);
  r.correlation_id = Text(e.sender_correlation_id);
  r.sent_timestamp = Text(e.sender_timestamp);
  r.sender_id = Text(std::string(responder_id));
  r.recipient_id = Text(e.sender_dip_id);
  r.connection_provider_id = Text(e.connection_provider_id);
  r.message = MessageFor(code);
  r.help = Text(std::string(help));
  return r;
}

}  // namespace dipgate::dip
