#include "common/dip/schema.h"

#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>

#include "common/ascii.h"
#include "common/files.h"

#if RAPIDJSON_SCHEMA_USE_INTERNALREGEX || !RAPIDJSON_SCHEMA_USE_STDREGEX
#error "build with -DRAPIDJSON_SCHEMA_USE_INTERNALREGEX=0: the internal engine drops \\d patterns"
#endif

namespace dipgate::dip {

struct SchemaSet::Compiled {
  std::string name;
  rapidjson::Document json;  // the schema text, to explain failures
  std::unique_ptr<rapidjson::SchemaDocument> schema;
};

namespace {

constexpr size_t kListMax = 12;  // values named in a detail before "..."

Result<rapidjson::Document> ReadJson(const std::string& path) {
  auto read = ReadWholeFile(path);
  if (!read) return Error{read.reason(), "DIP schema file: " + read.error().detail};
  const std::string& text = *read;
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    return Error{Reason::kInternalError,
                 "DIP schema file " + path + " is not JSON: " +
                     rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                     std::to_string(doc.GetErrorOffset())};
  }
  return doc;
}

std::string PointerText(const rapidjson::Pointer& p) {
  rapidjson::StringBuffer b;
  p.Stringify(b);
  return std::string(b.GetString(), b.GetSize());
}

std::string Short(const rapidjson::Value& v) {
  std::string s = ToJson(v);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string TypeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "boolean";
    case rapidjson::kObjectType: return "object";
    case rapidjson::kArrayType: return "array";
    case rapidjson::kStringType: return "string";
    case rapidjson::kNumberType: return "number";
  }
  return "value";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kListMax; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > kListMax) out += ", ... (" + std::to_string(items.size()) + " in all)";
  return out;
}

std::vector<std::string> Texts(const rapidjson::Value* list) {
  std::vector<std::string> out;
  if (list == nullptr || !list->IsArray()) return out;
  for (const auto& v : list->GetArray()) out.push_back(v.IsString() ? v.GetString() : ToJson(v));
  return out;
}

const rapidjson::Value* Keyword(const rapidjson::Value* schema, const char* name) {
  if (schema == nullptr || !schema->IsObject()) return nullptr;
  auto it = schema->FindMember(name);
  return it == schema->MemberEnd() ? nullptr : &it->value;
}

// Says what `keyword` of `schema` found wrong with `value`.
std::string Explain(const std::string& keyword, const rapidjson::Value* schema,
                    const rapidjson::Value* value, const std::string& last_token,
                    std::string* property) {
  if (value == nullptr) return "fails '" + keyword + "'";
  if (keyword == "required" && value->IsObject()) {
    std::vector<std::string> missing;
    for (const std::string& name : Texts(Keyword(schema, "required"))) {
      if (!value->HasMember(name.c_str())) missing.push_back(name);
    }
    if (!missing.empty()) *property = missing.front();
    return "missing required " + std::string(missing.size() == 1 ? "property " : "properties ") +
           Join(missing);
  }
  if (keyword == "additionalProperties") {
    // RapidJSON points at the extra property's value; `schema` is the
    // object's schema.
    const rapidjson::Value* props = Keyword(schema, "properties");
    std::vector<std::string> allowed;
    if (props != nullptr && props->IsObject()) {
      for (const auto& m : props->GetObject()) allowed.push_back(m.name.GetString());
    }
    return "property " + last_token + " is not allowed here (allowed: " + Join(allowed) + ")";
  }
  if (keyword == "enum") {
    return Short(*value) + " is not one of " + Join(Texts(Keyword(schema, "enum")));
  }
  if (keyword == "pattern") {
    const rapidjson::Value* p = Keyword(schema, "pattern");
    return Short(*value) + " does not match the pattern " + (p && p->IsString() ? p->GetString() : "");
  }
  if ((keyword == "minLength" || keyword == "maxLength") && value->IsString()) {
    const rapidjson::Value* limit = Keyword(schema, keyword.c_str());
    return Short(*value) + " has " + std::to_string(value->GetStringLength()) + " characters; " +
           (keyword == "minLength" ? "at least " : "at most ") +
           (limit ? ToJson(*limit) : std::string("?")) + " allowed";
  }
  if ((keyword == "minItems" || keyword == "maxItems") && value->IsArray()) {
    const rapidjson::Value* limit = Keyword(schema, keyword.c_str());
    return "the array has " + std::to_string(value->Size()) + " items; " +
           (keyword == "minItems" ? "at least " : "at most ") +
           (limit ? ToJson(*limit) : std::string("?")) + " allowed";
  }
  if (keyword == "type") {
    const rapidjson::Value* t = Keyword(schema, "type");
    return Short(*value) + " is " + TypeName(*value) + "; expected " +
           (t == nullptr ? "another type" : t->IsString() ? t->GetString() : Join(Texts(t)));
  }
  if (keyword == "oneOf" || keyword == "anyOf") {
    return Short(*value) + " matches none of the schema's alternatives";
  }
  if (const rapidjson::Value* k = Keyword(schema, keyword.c_str())) {
    return Short(*value) + " fails " + keyword + " " + Short(*k);
  }
  return Short(*value) + " fails '" + keyword + "'";
}

bool EndsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

SchemaSet::~SchemaSet() = default;

Result<std::unique_ptr<SchemaSet::Compiled>> SchemaSet::Compile(const std::string& path,
                                                               const std::string& name) {
  auto json = ReadJson(path);
  if (!json) return json.error();
  auto compiled = std::make_unique<Compiled>();
  compiled->name = name;
  compiled->json = std::move(*json);
  compiled->schema = std::make_unique<rapidjson::SchemaDocument>(compiled->json);
  return Result<std::unique_ptr<Compiled>>(std::move(compiled));
}

Result<std::shared_ptr<const SchemaSet>> SchemaSet::Load(const std::string& directory) {
  auto index = ReadJson(directory + "/index.json");
  if (!index) {
    return Error{Reason::kInternalError, index.error().detail +
                                             " (is it a directory made by "
                                             "third_party/dip_api/convert.py?)"};
  }
  std::shared_ptr<SchemaSet> set(new SchemaSet());
  set->directory_ = directory;
  const rapidjson::Value& root = *index;
  const rapidjson::Value* spec = Keyword(&root, "spec");
  const rapidjson::Value* version = Keyword(spec, "version");
  const rapidjson::Value* interfaces = Keyword(&root, "interfaces");
  if (version == nullptr || !version->IsString() || interfaces == nullptr ||
      !interfaces->IsObject()) {
    return Error{Reason::kInternalError,
                 directory + "/index.json lacks spec.version or interfaces"};
  }
  set->spec_version_ = version->GetString();
  set->channels_ = Texts(Keyword(&root, "channels"));
  for (const auto& iface : interfaces->GetObject()) {
    const rapidjson::Value* events = Keyword(&iface.value, "eventCodes");
    if (events == nullptr || !events->IsObject()) {
      return Error{Reason::kInternalError, directory + "/index.json: interface " +
                                               iface.name.GetString() + " has no eventCodes"};
    }
    auto& table = set->interfaces_[iface.name.GetString()];
    for (const auto& ev : events->GetObject()) {
      Event e{Texts(Keyword(&ev.value, "schemas")), Texts(Keyword(&ev.value, "schemaVersions"))};
      if (e.schemas.empty()) {
        return Error{Reason::kInternalError, directory + "/index.json: " +
                                                 iface.name.GetString() + " " +
                                                 ev.name.GetString() + " names no schema"};
      }
      for (const std::string& name : e.schemas) {
        if (set->schemas_.count(name)) continue;
        auto compiled = Compile(directory + "/payload/" + name + ".json", name);
        if (!compiled) return compiled.error();
        set->schemas_.emplace(name, std::move(*compiled));
      }
      table.emplace(ev.name.GetString(), std::move(e));
    }
  }
  for (const std::string& name : Texts(Keyword(&root, "api"))) {
    auto compiled = Compile(directory + "/api/" + name + ".json", name);
    if (!compiled) return compiled.error();
    set->api_.emplace(name, std::move(*compiled));
  }
  if (set->schemas_.empty()) {
    return Error{Reason::kInternalError, directory + "/index.json lists no schema"};
  }
  return std::shared_ptr<const SchemaSet>(std::move(set));
}

bool SchemaSet::IsChannel(std::string_view id) const {
  return std::any_of(channels_.begin(), channels_.end(),
                     [&](const std::string& c) { return EqualsNoCase(c, id); });
}

std::vector<std::string> SchemaSet::SchemasFor(std::string_view interface_id,
                                               std::string_view event_code) const {
  auto iface = interfaces_.find(interface_id);
  if (iface == interfaces_.end()) return {};
  auto ev = iface->second.find(event_code);
  return ev == iface->second.end() ? std::vector<std::string>{} : ev->second.schemas;
}

SchemaVerdict SchemaSet::Check(const Compiled& compiled, const Message& message) const {
  SchemaVerdict v;
  v.message = message.index;
  v.schema = compiled.name;
  rapidjson::SchemaValidator validator(*compiled.schema);
  if (message.payload->Accept(validator)) return v;
  std::string relative = PointerText(validator.GetInvalidDocumentPointer());
  v.keyword = validator.GetInvalidSchemaKeyword();
  const rapidjson::Value* schema = validator.GetInvalidSchemaPointer().Get(compiled.json);
  const rapidjson::Value* value = validator.GetInvalidDocumentPointer().Get(*message.payload);
  std::string property;
  std::string last = relative.substr(relative.rfind('/') + 1);
  v.detail = Explain(v.keyword, schema, value, last, &property);
  if (!property.empty()) relative += "/" + property;
  v.pointer = message.pointer + relative;
  v.reason = EndsWith(relative, "/senderUniqueReference") ? Reason::kBadSenderUniqueReference
                                                            : Reason::kSchemaInvalid;
  v.detail = (relative.empty() ? std::string("the payload") : relative) + ": " + v.detail +
             " (schema " + compiled.name + ", keyword " + v.keyword + ")";
  return v;
}

SchemaVerdict SchemaSet::Validate(const Message& message, const Expectations& expect) const {
  const Envelope& e = message.envelope;
  SchemaVerdict v;
  v.message = message.index;
  auto fail = [&](Reason reason, const std::string& where, std::string detail) {
    v.reason = reason;
    v.pointer = message.pointer + where;
    v.detail = std::move(detail);
    return v;
  };
  auto iface = interfaces_.find(e.interface_id);
  if (iface == interfaces_.end()) {
    return fail(Reason::kUnknownInterface, "/CommonBlock/S0/interfaceID",
                "interfaceID '" + e.interface_id + "' is not an interface of DIP spec " +
                    spec_version_);
  }
  if (!expect.channel.empty() && !EqualsNoCase(expect.channel, e.interface_id)) {
    return fail(Reason::kChannelMismatch, "/CommonBlock/S0/interfaceID",
                "interfaceID '" + e.interface_id + "' sent on channel '" + expect.channel + "'");
  }
  auto ev = iface->second.find(e.event_code);
  if (ev == iface->second.end()) {
    std::vector<std::string> known;
    for (const auto& [code, unused] : iface->second) known.push_back(code);
    return fail(Reason::kUnknownEventCode, "/CommonBlock/S0/eventCode",
                (e.event_code.empty() ? std::string("eventCode is missing or not a string")
                                      : "eventCode '" + e.event_code + "' is not an event of " +
                                            e.interface_id) +
                    " (" + e.interface_id + " knows " + Join(known) + ")");
  }
  const Event& event = ev->second;
  if (!event.versions.empty() && std::find(event.versions.begin(), event.versions.end(),
                                           e.schema_version) == event.versions.end()) {
    return fail(Reason::kUnsupportedSchemaVersion, "/CommonBlock/S0/schemaVersion",
                "schemaVersion '" + e.schema_version + "' of " + e.interface_id + " " +
                    e.event_code + " is not one of " + Join(event.versions) + " (DIP spec " +
                    spec_version_ + ")");
  }
  if (!expect.environment_tags.empty() &&
      std::find(expect.environment_tags.begin(), expect.environment_tags.end(),
                e.environment_tag) == expect.environment_tags.end()) {
    return fail(Reason::kEnvironmentTagMismatch, "/CommonBlock/S1/environmentTag",
                "environmentTag '" + e.environment_tag + "' where " +
                    Join(expect.environment_tags) + " is expected");
  }
  SchemaVerdict first;
  for (size_t i = 0; i < event.schemas.size(); ++i) {
    auto it = schemas_.find(event.schemas[i]);
    SchemaVerdict r = Check(*it->second, message);
    if (r.ok()) return r;
    if (i == 0) first = std::move(r);
  }
  return first;
}

SchemaVerdict SchemaSet::Validate(const MessageArray& array, const Expectations& expect) const {
  SchemaVerdict v;
  for (const Message& m : array.messages()) {
    v = Validate(m, expect);
    if (!v.ok()) return v;
  }
  return v;
}

SchemaVerdict SchemaSet::ValidateApiBody(std::string_view name, const rapidjson::Value& body) const {
  auto it = api_.find(name);
  if (it == api_.end()) {
    SchemaVerdict v;
    v.reason = Reason::kInternalError;
    v.detail = "the DIP schema set in " + directory_ + " has no API schema " + std::string(name);
    return v;
  }
  Message whole;
  whole.payload = &body;
  return Check(*it->second, whole);
}

std::vector<std::string> EnvironmentTagsFor(std::string_view environment) {
  if (environment == "prod") return {"PRD"};
  if (environment == "nonprod") return {"SITB", "SIT", "UIT", "DEV"};
  return {};
}

}  // namespace dipgate::dip
