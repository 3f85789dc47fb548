#include "common/dip/codes.h"

#include <cctype>

namespace dipgate::dip {
namespace {

struct Entry {
  const char* code;
  const char* meaning;
};

constexpr Entry kSpecCodes[] = {
#include "third_party/dip_api/response_codes.inc"
};
constexpr size_t kCount = sizeof(kSpecCodes) / sizeof(kSpecCodes[0]);

CodeClass Classify(std::string_view code) {
  if (code == "MSG0000" || code == "RCP0000" || code == "SP000") return CodeClass::kSuccess;
  if (code == "MSG1006") return CodeClass::kDuplicate;
  if (code == "MSG1000" || code == "RCP1000") return CodeClass::kTransient;
  if (code.substr(0, 3) == "MSG" || code.substr(0, 3) == "RCP") return CodeClass::kSenderFault;
  return CodeClass::kBusiness;
}

struct Table {
  ResponseCode codes[kCount];
  Table() {
    for (size_t i = 0; i < kCount; ++i) {
      codes[i] = {kSpecCodes[i].code, kSpecCodes[i].meaning, Classify(kSpecCodes[i].code)};
    }
  }
};

const Table& TheTable() {
  static const Table table;
  return table;
}

}  // namespace

const ResponseCode* ResponseCodes(size_t* count) {
  *count = kCount;
  return TheTable().codes;
}

ResponseCode FindResponseCode(std::string_view code) {
  for (const ResponseCode& c : TheTable().codes) {
    if (c.code == code) return c;
  }
  return {code, "", CodeClass::kUnknown};
}

std::string_view CodeOf(std::string_view message) {
  size_t letters = 0;
  while (letters < message.size() && letters < 4 && isupper(static_cast<unsigned char>(message[letters]))) {
    ++letters;
  }
  size_t end = letters;
  while (end < message.size() && isdigit(static_cast<unsigned char>(message[end]))) ++end;
  if (letters < 2 || end - letters < 3 || end - letters > 4) return {};
  if (end < message.size() && isalnum(static_cast<unsigned char>(message[end]))) return {};
  return message.substr(0, end);
}

std::string MessageFor(std::string_view code) {
  ResponseCode c = FindResponseCode(code);
  std::string out(code);
  if (!c.meaning.empty()) out += " - " + std::string(c.meaning);
  return out;
}

DipAction DipActionFor(int s) {
  if (s >= 200 && s < 300) return DipAction::kDelivered;
  switch (s) {
    case 408: case 429: case 500: case 502: case 503: case 504:
      return DipAction::kRetry;
    case 400: case 401: case 403: case 404: case 405: case 406: case 413: case 505:
      return DipAction::kDrop;
    default:
      return s >= 500 && s < 600 ? DipAction::kRetry : DipAction::kDrop;
  }
}

std::string_view IngressCodeFor(Reason reason) {
  switch (reason) {
    case Reason::kOk: return "MSG0000";
    case Reason::kInvalidJson:
    case Reason::kNotMessageArray:
    case Reason::kMissingEnvelope:
    case Reason::kUnknownEventCode:
    case Reason::kUnsupportedSchemaVersion:
    case Reason::kEnvironmentTagMismatch:
    case Reason::kBadSenderUniqueReference:
    case Reason::kSchemaInvalid: return "MSG1001";
    case Reason::kUnknownInterface:
    case Reason::kChannelMismatch: return "MSG1002";
    case Reason::kInternalError: return "MSG1000";
    default: return "";
  }
}

std::string_view RecipientCodeFor(Reason reason) {
  switch (reason) {
    case Reason::kOk: return "RCP0000";
    case Reason::kInvalidJson:
    case Reason::kNotMessageArray:
    case Reason::kMissingEnvelope:
    case Reason::kSchemaInvalid: return "RCP1001";
    case Reason::kUnknownInterface:
    case Reason::kChannelMismatch: return "RCP1002";
    case Reason::kUnknownEventCode: return "RCP1003";
    case Reason::kEnvironmentTagMismatch: return "RCP1004";
    case Reason::kUnsupportedSchemaVersion: return "RCP1005";
    case Reason::kBadSenderUniqueReference: return "RCP1006";
    case Reason::kBodyTooLarge:
    case Reason::kRevocationUnknown:  // our CRL copy, not the sender's fault
    case Reason::kCrlExpired:
    case Reason::kOcspUnavailable:   // the responder's trouble, not the sender's
    case Reason::kReplayInProgress:  // answered when the first copy's answer is known
    case Reason::kInternalError: return "RCP1000";
    default: return "RCP9999";  // every header, signature and certificate reason
  }
}

}  // namespace dipgate::dip
