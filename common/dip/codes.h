// The DIP's response codes (third_party/dip_api/ResponseCodes-unresolved.yaml,
// compiled in at build time) and who acts on each: MSG codes are the DIP's
// verdict on what a participant sent, RCP codes a recipient's verdict on what
// the DIP delivered, REG/SP/DS/ECS business outcomes inside messages. And the
// DIP's rule for the HTTP status a webhook receiver answers (SubmitEvents,
// pubconfig callback responses): which it retries and which it drops.
#ifndef DIPGATE_COMMON_DIP_CODES_H_
#define DIPGATE_COMMON_DIP_CODES_H_

#include <string>
#include <string_view>

#include "common/reason.h"

namespace dipgate::dip {

enum class CodeClass {
  kSuccess,      // MSG0000, RCP0000, SP000: accepted
  kDuplicate,    // MSG1006: already received; the first copy stands, do not resend
  kTransient,    // MSG1000, RCP1000: processing failed at the answering side; retry
  kSenderFault,  // any other MSG/RCP code: the message is wrong; resending it fails again
  kBusiness,     // REG, SP, DS, ECS: a business outcome, not a transport verdict
  kUnknown,      // not a code of the loaded table
};

struct ResponseCode {
  std::string_view code;     // "MSG1001"
  std::string_view meaning;  // "Schema Failure"
  CodeClass kind;
};

// The table entry for `code`; kind kUnknown and an empty meaning when the
// code is not in the spec.
ResponseCode FindResponseCode(std::string_view code);
// Every code of the table, in the spec's order.
const ResponseCode* ResponseCodes(size_t* count);

// The code at the start of a StandardResponse `message`:
// "MSG1001 - Schema Failure" and "MSG1001 -Schema Failure" give "MSG1001";
// "" when the message does not start with one.
std::string_view CodeOf(std::string_view message);
// The `message` text for a code: "MSG1001 - Schema Failure".
std::string MessageFor(std::string_view code);

// What the DIP does with the HTTP status a webhook receiver answered.
enum class DipAction { kDelivered, kRetry, kDrop };
// 2xx delivered; 408, 429, 500, 502, 503, 504 retried; 400, 401, 403, 404,
// 405, 406, 413, 505 dropped for good. Statuses the spec does not list:
// other 5xx retried, anything else dropped.
DipAction DipActionFor(int http_status);

// The MSG code the DIP gives for a rejection reason of common/dip (MSG1001
// schema, MSG1002 interface, MSG1000 ours); "" when none fits.
std::string_view IngressCodeFor(Reason reason);
// The RCP code a recipient answers for a reason: RCP9999 for every signature
// and certificate reason, RCP1001..RCP1006 for the message's faults, RCP1000
// for our own (internal_error, crl_expired, revocation_unknown) and for
// body_too_large.
std::string_view RecipientCodeFor(Reason reason);

}  // namespace dipgate::dip

#endif  // DIPGATE_COMMON_DIP_CODES_H_
