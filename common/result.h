// A value or the reason there is none (Result<T>), and "ok or why" for
// operations that produce no value (Status). Functions that can fail return
// one of these; there is no "construct, then remember to check", no bool with
// an error out-parameter, no empty string or sentinel value standing for
// failure. Verification outcomes are a Verdict (common/verifier.h).
#ifndef DIPGATE_COMMON_RESULT_H_
#define DIPGATE_COMMON_RESULT_H_

#include <optional>
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

// "ok or why": the outcome of an operation that yields no value. A
// default-constructed Status is ok; `return Error{...}` or
// `return some_result.error()` makes a failed one.
template <>
class Result<void> {
 public:
  Result() = default;                                   // ok
  Result(Error error) : error_(std::move(error)) {}     // NOLINT: implicit on purpose
  Result(Reason r, std::string detail) : error_(Error{r, std::move(detail)}) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }
  Reason reason() const { return ok() ? Reason::kOk : error_->reason; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

// The ok Status, for `return OkStatus();`.
inline Status OkStatus() { return Status(); }

}  // namespace dipgate

#endif  // DIPGATE_COMMON_RESULT_H_
