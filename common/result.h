// A value or the reason there is none. Functions that can fail return this;
// there is no "construct, then remember to check".
#ifndef DIPGATE_COMMON_RESULT_H_
#define DIPGATE_COMMON_RESULT_H_

#include <string>
#include <utility>
#include <variant>

#include "common/reason.h"

namespace dipgate {

struct Error {
  Reason reason = Reason::kInternalError;
  std::string detail;  // human-readable: which header, which check, why
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}       // NOLINT
  Result(Reason r, std::string detail) : v_(Error{r, std::move(detail)}) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Reason reason() const { return ok() ? Reason::kOk : error().reason; }

 private:
  std::variant<T, Error> v_;
};

}  // namespace dipgate

#endif  // DIPGATE_COMMON_RESULT_H_
