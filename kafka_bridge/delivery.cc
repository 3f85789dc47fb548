#include "kafka_bridge/delivery.h"

#include <algorithm>
#include <map>

#include "common/ascii.h"
#include "common/dip/codes.h"
#include "common/dip/message.h"
#include "common/dip/response.h"

namespace dipgate::bridge {
namespace {

Refusal RefusalFor(const Error& error) {
  switch (error.reason) {
    case Reason::kInvalidJson:
      return {DeadLetterReason::kInvalidJson, error.detail, ""};
    case Reason::kMissingEnvelope:
      return {DeadLetterReason::kMissingEnvelope, error.detail, ""};
    default:
      return {DeadLetterReason::kNotMessageArray, error.detail, ""};
  }
}

// The worse of two fates: a dead letter over a retry over a duplicate over
// a delivery.
RecordFate Worse(RecordFate a, RecordFate b) { return std::max(a, b); }

}  // namespace

std::string_view ReasonWord(DeadLetterReason reason) {
  switch (reason) {
    case DeadLetterReason::kInvalidJson: return "invalid_json";
    case DeadLetterReason::kNotMessageArray: return "not_message_array";
    case DeadLetterReason::kMissingEnvelope: return "missing_envelope";
    case DeadLetterReason::kChannelMismatch: return "channel_mismatch";
    case DeadLetterReason::kNoIdentity: return "no_identity";
    case DeadLetterReason::kSchemaInvalid: return "schema_invalid";
    case DeadLetterReason::kRejectedByDip: return "rejected_by_dip";
    case DeadLetterReason::kRetriesExhausted: return "retries_exhausted";
  }
  return "unknown";
}

Prepared PrepareRecord(std::string_view value, const PrepareOptions& options) {
  dip::ParseOptions parse;
  parse.allow_bare_payload = true;
  auto array = dip::MessageArray::Parse(value, parse);
  if (!array) return RefusalFor(array.error());
  const auto& messages = array->messages();
  PreparedRecord out;
  const dip::Envelope& first = messages.front().envelope;
  out.channel = first.interface_id;
  out.sender_dip_id = first.sender_dip_id;
  out.mpan_core = first.mpan_core;
  if (!dip::IsSafeName(out.channel)) {
    return Refusal{DeadLetterReason::kMissingEnvelope,
                   "message 0: CommonBlock.S0.interfaceID '" + out.channel +
                       "' is not a channel name (letters, digits, '-', '_', '.')",
                   "/0/payload/CommonBlock/S0/interfaceID"};
  }
  for (const dip::Message& m : messages) {
    if (!EqualsNoCase(m.envelope.interface_id, out.channel)) {
      return Refusal{DeadLetterReason::kChannelMismatch,
                     "message " + std::to_string(m.index) + " is for " + m.envelope.interface_id +
                         ", message 0 for " + out.channel + ": one record goes to one channel",
                     m.pointer + "/CommonBlock/S0/interfaceID"};
    }
    out.references.push_back(m.envelope.sender_unique_reference);
  }
  if (options.schemas) {
    dip::Expectations expect = options.expect;
    expect.channel = out.channel;
    dip::SchemaVerdict verdict = options.schemas->Validate(*array, expect);
    if (!verdict.ok()) {
      return Refusal{DeadLetterReason::kSchemaInvalid,
                     std::string(ToString(verdict.reason)) + ": message " +
                         std::to_string(verdict.message) + ": " + verdict.pointer + ": " +
                         verdict.detail,
                     verdict.pointer};
    }
  }
  std::string_view body = TrimJsonSpace(value);
  switch (array->form()) {
    case dip::BodyForm::kArray:
      out.elements = std::string(TrimJsonSpace(body.substr(1, body.size() - 2)));
      break;
    case dip::BodyForm::kMessage:
      out.elements = std::string(body);
      break;
    case dip::BodyForm::kPayload:
      out.elements = "{\"payload\":" + std::string(body) + "}";
      break;
  }
  return out;
}

std::string BatchBody(const std::vector<const PreparedRecord*>& records) {
  size_t size = 2;
  for (const PreparedRecord* r : records) size += r->elements.size() + 1;
  std::string body;
  body.reserve(size);
  body += '[';
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) body += ',';
    body += records[i]->elements;
  }
  body += ']';
  return body;
}

AnswerReading ReadAnswer(const transport::Reply& reply,
                         const std::vector<const PreparedRecord*>& records, bool secondary_key) {
  AnswerReading out;
  const long status = reply.status;
  if (reply.transport_error || status == 0) {
    out.fate = PostFate::kRetry;
    out.why = "transport: " + reply.error;
    return out;
  }
  if (status == 408 || status == 429 || status >= 500) {
    out.fate = PostFate::kRetry;
    out.why = "HTTP " + std::to_string(status);
    return out;
  }
  if ((status == 401 || status == 403) && secondary_key) {
    out.fate = PostFate::kTrySecondaryKey;
    out.why = "HTTP " + std::to_string(status) + " with the primary API key";
    return out;
  }
  // The DIP refuses an array as a whole (400, 413). Its answer may still
  // mark messages MSG1006, already received: whatever the status, they
  // were delivered by an earlier attempt.
  const bool refused_array = (status == 400 || status == 413) && records.size() > 1;
  auto response = dip::ParseStandardResponse(reply.body);
  const bool success = status >= 200 && status < 300;
  // Entries by senderUniqueReference, and in order for those without one.
  std::map<std::string, const dip::ResponseEntry*, std::less<>> by_reference;
  if (response) {
    for (const auto& e : response->entries) {
      if (e.sender_unique_reference && !e.sender_unique_reference->empty()) {
        by_reference.emplace(*e.sender_unique_reference, &e);
      }
    }
  }
  size_t position = 0;
  size_t duplicates = 0;  // records whose every message is MSG1006
  for (const PreparedRecord* record : records) {
    RecordAnswer answer;
    answer.fate = success ? RecordFate::kDelivered : RecordFate::kDeadLetter;
    for (const std::string& reference : record->references) {
      const dip::ResponseEntry* entry = nullptr;
      if (response) {
        auto it = by_reference.find(reference);
        if (it != by_reference.end()) {
          entry = it->second;
        } else if (position < response->entries.size()) {
          entry = &response->entries[position];
        }
      }
      ++position;
      MessageAnswer m{reference, "", ""};
      if (entry != nullptr) {
        m.transaction_id = entry->transaction_id.value_or("");
        m.code = std::string(entry->code());
      }
      dip::CodeClass kind = m.code.empty() ? dip::CodeClass::kUnknown
                                           : dip::FindResponseCode(m.code).kind;
      RecordFate fate = success ? RecordFate::kDelivered : RecordFate::kDeadLetter;
      if (kind == dip::CodeClass::kDuplicate) {
        fate = RecordFate::kDuplicate;
      } else if (success && !m.code.empty()) {
        switch (kind) {
          case dip::CodeClass::kSuccess: fate = RecordFate::kDelivered; break;
          case dip::CodeClass::kTransient: fate = RecordFate::kRetry; break;
          default: fate = RecordFate::kDeadLetter; break;
        }
      }
      if (fate > RecordFate::kDuplicate && (answer.code.empty() || fate > answer.fate) &&
          entry != nullptr) {
        answer.code = m.code;
        answer.message = entry->message.value_or("");
        answer.help = entry->help.value_or("");
      }
      answer.fate = answer.messages.empty() ? fate : Worse(answer.fate, fate);
      answer.messages.push_back(std::move(m));
    }
    if (answer.fate == RecordFate::kDuplicate) ++duplicates;
    out.records.push_back(std::move(answer));
  }
  if (refused_array) {
    if (duplicates == 0) {
      out.records.clear();
      out.fate = PostFate::kSplit;
      out.why = "HTTP " + std::to_string(status) + " for " + std::to_string(records.size()) +
                " records: the DIP refuses an array as a whole";
      return out;
    }
    // The resent records are settled; the others go again without them.
    for (RecordAnswer& answer : out.records) {
      if (answer.fate != RecordFate::kDuplicate) answer.fate = RecordFate::kResend;
    }
    out.why = "HTTP " + std::to_string(status) + ": " + std::to_string(duplicates) + " of " +
              std::to_string(records.size()) +
              " records already received (MSG1006); the others sent again without them";
    return out;
  }
  out.why = "HTTP " + std::to_string(status) +
            (response ? "" : success ? " without a StandardResponse" : "");
  return out;
}

}  // namespace dipgate::bridge
