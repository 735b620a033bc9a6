// Status and Result: expected failures as values, the error type of every module's API.
// DecodeError: malformed or hostile bytes where a schema message was expected.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace sitesync {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // bad user input: unknown field, malformed value, bad length
  kNotFound,            // unknown reference
  kAlreadyExists,       // duplicate customer number / SSN
  kFailedPrecondition,  // operation not allowed in the current state (e.g. deleted customer)
  kInternal,
};

// Factories name the code: Status::notFound("no customer #12"). [[nodiscard]]: a Status is
// looked at or passed on, never dropped.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }
  static Status invalidArgument(std::string message) {
    return {StatusCode::kInvalidArgument, std::move(message)};
  }
  static Status notFound(std::string message) {
    return {StatusCode::kNotFound, std::move(message)};
  }
  static Status alreadyExists(std::string message) {
    return {StatusCode::kAlreadyExists, std::move(message)};
  }
  static Status failedPrecondition(std::string message) {
    return {StatusCode::kFailedPrecondition, std::move(message)};
  }
  static Status internal(std::string message) {
    return {StatusCode::kInternal, std::move(message)};
  }
  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {}  // NOLINT
  bool isOk() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status kOkStatus;
    return isOk() ? kOkStatus : std::get<Status>(value_);
  }
  T& value() { return std::get<T>(value_); }
  const T& value() const { return std::get<T>(value_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> value_;
};

// The one exception hierarchy. Expected outcomes of a request (bad input, unknown reference, a
// rule the request breaks) are Status values; what is thrown is a failure of the machinery or
// of a peer's bytes, and every module throws a subclass of Error: DecodeError (protocol),
// StoreError (storage), ApplyError (sync), SyncError and SecurityError (node).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Malformed or hostile bytes where a schema message was expected.
class DecodeError : public Error {
 public:
  using Error::Error;
};

}  // namespace sitesync
