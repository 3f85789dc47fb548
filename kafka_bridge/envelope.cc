#include "kafka_bridge/envelope.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace dipgate::bridge {
namespace {

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

bool ParseEnvelope(std::string_view json, Envelope* out, std::string* why) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    *why = std::string("invalid_json: ") + rapidjson::GetParseError_En(doc.GetParseError()) +
           " at offset " + std::to_string(doc.GetErrorOffset());
    return false;
  }
  const rapidjson::Value* message = &doc;
  if (doc.IsArray()) {
    if (doc.Size() != 1) {
      *why = "missing_envelope: a wrapped message must be an array of one element";
      return false;
    }
    message = Member(doc[0], "payload");
    if (message == nullptr) {
      *why = "missing_envelope: the array element has no payload";
      return false;
    }
  }
  const rapidjson::Value* common = Member(*message, "CommonBlock");
  if (common == nullptr) {
    *why = "missing_envelope: no CommonBlock";
    return false;
  }
  const rapidjson::Value* s0 = Member(*common, "S0");
  const rapidjson::Value* interface_id = s0 ? Member(*s0, "interfaceID") : nullptr;
  if (interface_id == nullptr || !interface_id->IsString() ||
      interface_id->GetStringLength() == 0) {
    *why = "missing_envelope: no CommonBlock.S0.interfaceID string";
    return false;
  }
  Envelope e;
  e.interface_id.assign(interface_id->GetString(), interface_id->GetStringLength());
  for (char c : e.interface_id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      *why = "missing_envelope: CommonBlock.S0.interfaceID has characters not allowed in a URL";
      return false;
    }
  }
  const rapidjson::Value* s1 = Member(*common, "S1");
  const rapidjson::Value* sender = s1 ? Member(*s1, "senderDIPID") : nullptr;
  if (sender != nullptr && sender->IsString()) {
    e.sender_dip_id.assign(sender->GetString(), sender->GetStringLength());
  }
  *out = std::move(e);
  return true;
}

}  // namespace dipgate::bridge
