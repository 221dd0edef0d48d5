#pragma once

// Metrics in the Prometheus text exposition format (version 0.0.4), which
// Render() writes:
//
//   # HELP <name> <help, with \ and newline escaped>
//   # TYPE <name> counter|gauge|histogram
//   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
//
// one HELP/TYPE pair per family, then its samples. A histogram family writes,
// per label set, cumulative `<name>_bucket{...,le="<bound>"}` lines in
// increasing bound order ending with le="+Inf" (= the count), then
// `<name>_sum` and `<name>_count`.
//
// Counters and histograms are updated lock-free on hot paths; a caller keeps
// the pointer the registry returns. Gauges are read when rendered, from a
// callback, so that they never go stale.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ycr {

// Label name -> value, in the order written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t by = 1) {
    value_.fetch_add(by, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets, strictly increasing; +Inf is
  // implied.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), bounds().size() + 1 entries (the last:
  // above every bound).
  std::vector<uint64_t> bucket_counts() const;
  double sum() const;
  uint64_t count() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  // The sum's bits as a double (CAS loop: atomic<double>::fetch_add is C++20
  // but not lock-free everywhere).
  std::atomic<uint64_t> sum_bits_{0};
};

// `start` * `factor`^i for i in [0, count).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// One sample of a gauge family.
struct GaugeSample {
  MetricLabels labels;
  double value = 0;
};

// Owns every metric; thread-safe. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*
// and label names [a-zA-Z_][a-zA-Z0-9_]* (checked; a bad name is a bug, so
// it aborts). A family has one type and one help text: asking for a name
// with another type aborts too.
class MetricRegistry {
 public:
  MetricRegistry() = default;
  MetricRegistry(const MetricRegistry&) = delete;
  MetricRegistry& operator=(const MetricRegistry&) = delete;

  // The counter of `name` with `labels`, created at zero on first use. The
  // pointer lives as long as the registry.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});

  // As GetCounter; `bounds` apply when the histogram is created.
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds,
                          const MetricLabels& labels = {});

  // A gauge family whose samples `collect` returns at each Render(), called
  // without the registry's lock held. It must stay callable as long as the
  // registry renders.
  void AddGaugeFamily(const std::string& name, const std::string& help,
                      std::function<std::vector<GaugeSample>()> collect);

  // Every family, in name order, in the text format above.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    // Label set -> metric, ordered so that a family renders stably.
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
    std::function<std::vector<GaugeSample>()> collect;
  };
  Family& FamilyLocked(const std::string& name, const std::string& help,
                       Type type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

namespace metrics_internal {

// Exposed for tests of the format.
std::string EscapeHelp(const std::string& help);
std::string EscapeLabelValue(const std::string& value);
// Shortest text that reads back as `value`; "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);
// `{a="x",b="y"}`, or "" for no labels.
std::string FormatLabels(const MetricLabels& labels);

}  // namespace metrics_internal

}  // namespace ycr
