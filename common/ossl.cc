#include "common/ossl.h"

#include <openssl/err.h>

namespace dipgate {

std::string TakeOpensslError() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    text = buf;
  } else {
    text = "no OpenSSL error recorded";
  }
  ERR_clear_error();
  return text;
}

}  // namespace dipgate
