// The canonical pieces of the DIP signing scheme (CoCo 8.4, 8.5), as pure
// functions: the signature string, the destination variants a verifier
// accepts, and the X-DIP-Signature-Date format.
#ifndef DIPGATE_COMMON_CANONICAL_H_
#define DIPGATE_COMMON_CANONICAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dipgate {

// Milliseconds since the Unix epoch, UTC. Verification takes the time as a
// parameter so tests control the clock.
using UnixMillis = int64_t;

UnixMillis WallClockMillis();

// "VERB;destination;date;hash": verb upper-cased, destination lower-cased,
// the date exactly as it will be (or was) sent.
std::string SignatureString(std::string_view verb, std::string_view destination,
                            std::string_view date, std::string_view content_hash);

// The signature strings a verifier tries, in order: with the whole URL
// lower-cased (the CoCo's rule, Postman and Go senders), then with scheme
// and host lower-cased and the path and query as received (the .NET
// reference signs the URL as given). The second is omitted when it equals
// the first.
std::vector<std::string> CandidateSignatureStrings(std::string_view verb,
                                                   std::string_view destination,
                                                   std::string_view date,
                                                   std::string_view content_hash);

// "2026-11-23T11:35:00.123Z": UTC, milliseconds, 'Z' (what dipgate emits).
std::string FormatSignatureDate(UnixMillis t);

// Parses every date form real senders use: 0 to 9 fraction digits (.NET
// writes 7, JavaScript and Go 3), 'Z', the CoCo table's literal ":Z", or a
// numeric offset (+01:00, -0500). Fractions beyond milliseconds truncate.
// nullopt for anything else, including out-of-range fields.
std::optional<UnixMillis> ParseSignatureDate(std::string_view text);

}  // namespace dipgate

#endif  // DIPGATE_COMMON_CANONICAL_H_
