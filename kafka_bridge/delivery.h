// What the outbound bridge does with a Kafka record and with the DIP's
// answer to a POST, as functions of their inputs (unit-tested without Kafka
// or a network):
//
//   PrepareRecord  a record's value -> the DIP messages it holds, their
//                  channel, the sender that picks the signing identity
//   BatchBody      prepared records of one channel -> one DIPMessageArray
//   ReadAnswer     the DIP's answer -> what happens to each record of the POST
//
// The DIP's API (SubmitEvents): POST {base}/dip-channel/{interfaceID} with a
// DIPMessageArray; 201 with a StandardResponse, one entry per message:
// MSG0000 accepted, MSG1006 already received (an earlier attempt got through
// and its answer was lost: delivered, whatever the HTTP status: a DIP may
// answer a resend with 400 and MSG1006), MSG1000 the DIP's own failure
// (retry), any other code the message's fault. A 400 refuses the whole
// array: the records it marks MSG1006 are settled and the others sent again
// without them; with none marked, the array is split.
#ifndef DIPGATE_KAFKA_BRIDGE_DELIVERY_H_
#define DIPGATE_KAFKA_BRIDGE_DELIVERY_H_

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/dip/schema.h"
#include "common/result.h"
#include "transport/https.h"

namespace dipgate::bridge {

// Why a record went to the dead-letter topic: the dip.errors.reason header.
enum class DeadLetterReason {
  kInvalidJson,        // the record's value is not JSON
  kNotMessageArray,    // not a DIP message, nor an array or {"payload"} of them
  kMissingEnvelope,    // a message without CommonBlock.S0.interfaceID
  kChannelMismatch,    // the record's messages are for different channels
  kNoIdentity,         // no configured identity signs for the message's senderDIPID
  kSchemaInvalid,      // refused by the schema check before sending (no DIP call spent)
  kRejectedByDip,      // the DIP refused it (its MSG code, or the HTTP status)
  kRetriesExhausted,   // retry.max_attempts reached without an answer that settles it
};
std::string_view ReasonWord(DeadLetterReason reason);

// A record ready to send.
struct PreparedRecord {
  std::string channel;        // S0.interfaceID (the first message's; all share it)
  std::string sender_dip_id;  // S1.senderDIPID of the first message
  std::string mpan_core;      // M0.MPANCore of the first message ("" if none)
  // The record's messages as DIPMessageArray elements, comma-separated: an
  // array's elements as sent, a {"payload"} object as it is, a bare payload
  // wrapped in {"payload": ...}. No re-serialisation.
  std::string elements;
  std::vector<std::string> references;  // S1.senderUniqueReference of each message
};

// Why a record cannot be sent (dead-lettered at once).
struct Refusal {
  DeadLetterReason reason;
  std::string detail;   // for people: which message, which field, why
  std::string pointer;  // JSON pointer of the failing value (schema refusals)
};

struct PrepareOptions {
  // Validate each message against its interface's schema (null: don't).
  std::shared_ptr<const dip::SchemaSet> schemas;
  dip::Expectations expect;
};

// The record's value as DIP messages, or why it cannot go to the DIP.
using Prepared = std::variant<PreparedRecord, Refusal>;
Prepared PrepareRecord(std::string_view value, const PrepareOptions& options);

// "[" elements, ... "]".
std::string BatchBody(const std::vector<const PreparedRecord*>& records);

// What happens to the records of one POST.
enum class PostFate {
  kSettled,          // each record's fate is in `records`
  kRetry,            // the whole POST again later (transport error, 408, 429, 5xx)
  kTrySecondaryKey,  // 401/403 with the primary API key: again now with the secondary
  kSplit,            // 400/413 for several records: split and send the halves
};

enum class RecordFate {
  kDelivered,
  kDuplicate,   // every message MSG1006: delivered by an earlier attempt
  kRetry,       // MSG1000: again later, with the retry policy's wait
  kDeadLetter,  // the message's fault
  kResend,      // in an array refused for another record's MSG1006: again now, without it
};

// The answer for one message of a record.
struct MessageAnswer {
  std::string reference;       // senderUniqueReference sent
  std::string transaction_id;  // the DIP's transactionID ("" when not given)
  std::string code;            // MSG code ("" when the answer had none)
};

struct RecordAnswer {
  RecordFate fate = RecordFate::kDelivered;
  std::vector<MessageAnswer> messages;
  // Of the message that settled a dead letter (or retry): its entry's text.
  std::string code, message, help;
};

struct AnswerReading {
  PostFate fate = PostFate::kSettled;
  std::vector<RecordAnswer> records;  // kSettled: one per record, in order
  std::string why;                    // for logs: what in the answer decided
};

// `records`: the records of the POST in body order. `secondary_key`: a
// secondary API key exists and was not used for this POST.
AnswerReading ReadAnswer(const transport::Reply& reply,
                         const std::vector<const PreparedRecord*>& records, bool secondary_key);

}  // namespace dipgate::bridge

#endif  // DIPGATE_KAFKA_BRIDGE_DELIVERY_H_
