// StandardResponse: the DIP's answer body (SubmitEvents, StandardResponse
// and StandardResponseBodyType), given by the DIP for ingress and by a
// participant for each webhook:
//
//   {"messageArray": [{"transactionID", "senderUniqueReference",
//     "correlationID", "sentTimestamp", "senderID", "recipientID",
//     "DIPConnectionProviderID", "message", "help", "serviceTicketURL"}, ...],
//    "timestamp": "2022-03-21T11:16:01+00:00"}
//
// Building writes all ten fields (null where there is no value), as the
// spec requires. Parsing is lenient, as the interop notes ask of a client:
// the spec's own examples break its length rules (an 11-character senderID)
// and `messageArray` is not required; only the shape is checked.
#ifndef DIPGATE_COMMON_DIP_RESPONSE_H_
#define DIPGATE_COMMON_DIP_RESPONSE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/canonical.h"
#include "common/dip/message.h"
#include "common/result.h"

namespace dipgate::dip {

struct ResponseEntry {
  std::optional<std::string> transaction_id;
  std::optional<std::string> sender_unique_reference;
  std::optional<std::string> correlation_id;
  std::optional<std::string> sent_timestamp;
  std::optional<std::string> sender_id;
  std::optional<std::string> recipient_id;
  std::optional<std::string> connection_provider_id;
  std::optional<std::string> message;  // "MSG0000 - Success"
  std::optional<std::string> help;
  std::optional<std::string> service_ticket_url;

  // The code of `message` ("MSG0000"), "" when there is none.
  std::string_view code() const;
};

struct StandardResponse {
  std::vector<ResponseEntry> entries;  // messageArray
  std::optional<std::string> timestamp;
};

std::string ToJson(const StandardResponse& response);

// not_message_array (with what is wrong) when the body is not JSON or not a
// StandardResponse's shape; fields of the wrong type are read as absent.
Result<StandardResponse> ParseStandardResponse(std::string_view body);

// A body timestamp as the DIP writes them (DT-003): 2022-03-21T19:05:00+00:00.
std::string BodyTimestamp(UnixMillis t);

// The entry answering one message: its references from the envelope
// (D0.transactionID, S1.senderUniqueReference, senderCorrelationID,
// senderTimestamp, DIPConnectionProviderID; recipientID is the message's
// sender), `responder_id` as senderID (null when empty), the code's
// message text, and `help` (null when empty).
ResponseEntry EntryFor(const Envelope& envelope, std::string_view code,
                       std::string_view responder_id, std::string_view help = {});

}  // namespace dipgate::dip

#endif  // DIPGATE_COMMON_DIP_RESPONSE_H_
