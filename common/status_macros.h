#pragma once

// Early-return helpers for absl::Status / absl::StatusOr. Debian 12's abseil
// (20220623) has no ABSL_RETURN_IF_ERROR; these are named so that they can be
// swapped for abseil's once it has them.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define YCR_CONCAT_INNER_(a, b) a##b
#define YCR_CONCAT_(a, b) YCR_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// if it is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status ycr_status_ = (expr);       \
    if (!ycr_status_.ok()) return ycr_status_; \
  } while (false)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>);
// returns its status if not OK, else moves the value into `lhs`, which may be
// a declaration (`auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  YCR_ASSIGN_OR_RETURN_IMPL_(YCR_CONCAT_(ycr_statusor_, __LINE__), lhs, expr)

#define YCR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)    \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
