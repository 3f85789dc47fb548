#include "common/base64.h"

#include <array>
#include <cstdint>

namespace dipgate {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = i;
  t['-'] = 62;  // URL-safe alphabet
  t['_'] = 63;
  return t;
}

constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.resize((in.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t i = 0, o = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out[o++] = kAlphabet[v >> 18];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = p[i] << 16;
    if (rest == 2) v |= p[i + 1] << 8;
    out[o++] = kAlphabet[v >> 18];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  // Padding, if any, must bring the length to a multiple of four.
  size_t len = in.size();
  size_t pad = 0;
  while (len > 0 && in[len - 1] == '=' && pad < 2) {
    --len;
    ++pad;
  }
  if (pad > 0 && in.size() % 4 != 0) return std::nullopt;
  if (len % 4 == 1) return std::nullopt;  // no byte count maps to this length
  if (pad > 0 && (len + pad) % 4 != 0) return std::nullopt;

  std::string out(len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1), '\0');
  const auto* in_bytes = reinterpret_cast<const uint8_t*>(in.data());
  size_t i = 0, o = 0;
  // Whole quads first: four table look-ups, one validity test, three bytes.
  for (; i + 4 <= len; i += 4) {
    uint8_t a = kDecode[in_bytes[i]], b = kDecode[in_bytes[i + 1]],
            c = kDecode[in_bytes[i + 2]], d = kDecode[in_bytes[i + 3]];
    if ((a | b | c | d) & 0x80) return std::nullopt;  // kInvalid has the top bit
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = static_cast<char>(v >> 16);
    out[o++] = static_cast<char>(v >> 8);
    out[o++] = static_cast<char>(v);
  }
  uint32_t acc = 0;
  int bits = 0;
  for (; i < len; ++i) {
    uint8_t d = kDecode[in_bytes[i]];
    if (d == kInvalid) return std::nullopt;  // also catches '=' inside
    acc = (acc << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, or two encodings would decode alike.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace dipgate
