#include "common/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace ycr {
namespace {

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || (allow_colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "metrics: " << message << std::endl;
  std::abort();
}

void CheckNames(const std::string& name, const MetricLabels& labels) {
  if (!ValidName(name, /*allow_colon=*/true)) {
    Die("bad metric name '" + name + "'");
  }
  for (const auto& [label, value] : labels) {
    // "le" belongs to histogram buckets; "__" names are reserved.
    if (!ValidName(label, /*allow_colon=*/false) || label == "le" ||
        label.rfind("__", 0) == 0) {
      Die("bad label name '" + label + "' on " + name);
    }
  }
}

double FromBits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

uint64_t ToBits(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

}  // namespace

namespace metrics_internal {

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

std::string FormatLabels(const MetricLabels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, labels[i].first, "=\"",
                    EscapeLabelValue(labels[i].second), "\"");
  }
  return out + "}";
}

}  // namespace metrics_internal

using metrics_internal::EscapeHelp;
using metrics_internal::FormatLabels;
using metrics_internal::FormatValue;

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (std::isnan(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Die("histogram bounds must increase strictly");
    }
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  // The first bucket whose bound is >= value (buckets are "le").
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  uint64_t old_bits = sum_bits_.load(std::memory_order_relaxed);
  while (!sum_bits_.compare_exchange_weak(old_bits,
                                          ToBits(FromBits(old_bits) + value),
                                          std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = counts_[i].load(std::memory_order_relaxed);
  }
  return out;
}

double Histogram::sum() const {
  return FromBits(sum_bits_.load(std::memory_order_relaxed));
}

uint64_t Histogram::count() const {
  return count_.load(std::memory_order_relaxed);
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) bounds.push_back(bound);
  return bounds;
}

MetricRegistry::Family& MetricRegistry::FamilyLocked(const std::string& name,
                                                     const std::string& help,
                                                     Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    Die("metric " + name + " registered with two types");
  }
  return it->second;
}

Counter* MetricRegistry::GetCounter(const std::string& name,
                                    const std::string& help,
                                    const MetricLabels& labels) {
  CheckNames(name, labels);
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyLocked(name, help, Type::kCounter).counters[labels];
  if (slot == nullptr) slot = std::make_unique<Counter>();
  return slot.get();
}

Histogram* MetricRegistry::GetHistogram(const std::string& name,
                                        const std::string& help,
                                        const std::vector<double>& bounds,
                                        const MetricLabels& labels) {
  CheckNames(name, labels);
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyLocked(name, help, Type::kHistogram).histograms[labels];
  if (slot == nullptr) slot = std::make_unique<Histogram>(bounds);
  return slot.get();
}

void MetricRegistry::AddGaugeFamily(
    const std::string& name, const std::string& help,
    std::function<std::vector<GaugeSample>()> collect) {
  CheckNames(name, {});
  absl::MutexLock lock(&mu_);
  FamilyLocked(name, help, Type::kGauge).collect = std::move(collect);
}

std::string MetricRegistry::Render() const {
  // Text per family, in name order; gauges are collected after the lock is
  // released (their callbacks may take locks of their own).
  std::vector<std::pair<std::string, std::string>> texts;
  std::vector<std::pair<size_t, std::function<std::vector<GaugeSample>()>>>
      gauges;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, family] : families_) {
      std::string text =
          absl::StrCat("# HELP ", name, " ", EscapeHelp(family.help), "\n");
      switch (family.type) {
        case Type::kCounter:
          absl::StrAppend(&text, "# TYPE ", name, " counter\n");
          for (const auto& [labels, counter] : family.counters) {
            absl::StrAppend(&text, name, FormatLabels(labels), " ",
                            counter->value(), "\n");
          }
          break;
        case Type::kGauge:
          absl::StrAppend(&text, "# TYPE ", name, " gauge\n");
          gauges.emplace_back(texts.size(), family.collect);
          break;
        case Type::kHistogram:
          absl::StrAppend(&text, "# TYPE ", name, " histogram\n");
          for (const auto& [labels, histogram] : family.histograms) {
            const std::vector<uint64_t> counts = histogram->bucket_counts();
            uint64_t cumulative = 0;
            for (size_t i = 0; i < counts.size(); ++i) {
              cumulative += counts[i];
              MetricLabels with_le = labels;
              with_le.emplace_back("le",
                                   i < histogram->bounds().size()
                                       ? FormatValue(histogram->bounds()[i])
                                       : "+Inf");
              absl::StrAppend(&text, name, "_bucket", FormatLabels(with_le),
                              " ", cumulative, "\n");
            }
            // _count is the +Inf bucket, read once, so the two agree.
            absl::StrAppend(&text, name, "_sum", FormatLabels(labels), " ",
                            FormatValue(histogram->sum()), "\n", name, "_count",
                            FormatLabels(labels), " ", cumulative, "\n");
          }
          break;
      }
      texts.emplace_back(name, std::move(text));
    }
  }
  for (auto& [index, collect] : gauges) {
    if (!collect) continue;
    for (const GaugeSample& sample : collect()) {
      CheckNames(texts[index].first, sample.labels);
      absl::StrAppend(&texts[index].second, texts[index].first,
                      FormatLabels(sample.labels), " ",
                      FormatValue(sample.value), "\n");
    }
  }
  std::string out;
  for (const auto& [name, text] : texts) out += text;
  return out;
}

}  // namespace ycr
