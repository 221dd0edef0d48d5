// The Prometheus text exposition format (0.0.4) as MetricRegistry writes it:
// HELP and TYPE once per family, label and help escaping, cumulative
// histogram buckets ending in +Inf, _sum and _count, gauges read at render.

#include "common/metrics.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace ycr {
namespace {

using metrics_internal::EscapeHelp;
using metrics_internal::EscapeLabelValue;
using metrics_internal::FormatLabels;
using metrics_internal::FormatValue;

TEST(MetricsFormatTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\n"
                             "d"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeLabelValue("plain/ok-1"), "plain/ok-1");
}

TEST(MetricsFormatTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp("a \"b\" \\ c\nd"), "a \"b\" \\\\ c\\nd");
}

TEST(MetricsFormatTest, ValuesReadBackExactlyAndInfinitiesAreSpelled) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(2.5e-05), "2.5e-05");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsFormatTest, LabelsAreBracedQuotedAndCommaSeparated) {
  EXPECT_EQ(FormatLabels({}), "");
  EXPECT_EQ(FormatLabels({{"code", "OK"}, {"method", "/a.B/C"}}),
            R"({code="OK",method="/a.B/C"})");
}

TEST(MetricRegistryTest, CounterFamilyHasOneHelpAndTypeAndASamplePerLabelSet) {
  MetricRegistry registry;
  registry.GetCounter("calls_total", "Calls.", {{"code", "OK"}})->Increment(3);
  registry.GetCounter("calls_total", "Calls.", {{"code", "ABORTED"}})
      ->Increment();
  // The same name and labels is the same counter.
  registry.GetCounter("calls_total", "Calls.", {{"code", "OK"}})->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP calls_total Calls.\n"
            "# TYPE calls_total counter\n"
            "calls_total{code=\"ABORTED\"} 1\n"
            "calls_total{code=\"OK\"} 4\n");
}

TEST(MetricRegistryTest, HistogramBucketsAreCumulativeEndInInfAndMatchCount) {
  MetricRegistry registry;
  Histogram* h = registry.GetHistogram("latency_seconds", "Latency.",
                                       {0.25, 0.5, 1}, {{"op", "say \"hi\""}});
  h->Observe(0.125);
  h->Observe(0.25);  // On a bound: counted in that bucket (le).
  h->Observe(0.75);
  h->Observe(8);  // Above every bound: only in +Inf.
  EXPECT_EQ(registry.Render(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{op=\"say \\\"hi\\\"\",le=\"0.25\"} 2\n"
            "latency_seconds_bucket{op=\"say \\\"hi\\\"\",le=\"0.5\"} 2\n"
            "latency_seconds_bucket{op=\"say \\\"hi\\\"\",le=\"1\"} 3\n"
            "latency_seconds_bucket{op=\"say \\\"hi\\\"\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{op=\"say \\\"hi\\\"\"} 9.125\n"
            "latency_seconds_count{op=\"say \\\"hi\\\"\"} 4\n");
}

TEST(MetricRegistryTest, GaugesAreReadWhenRenderedAndFamiliesSortByName) {
  MetricRegistry registry;
  double lag = 5;
  registry.AddGaugeFamily(
      "projection_lag", "Events behind.\nPer projection.", [&lag] {
        return std::vector<GaugeSample>{{{{"projection", "audit"}}, lag},
                                        {{{"projection", "deadlines"}}, 0}};
      });
  registry.GetCounter("appends_total", "Appends.")->Increment();
  lag = 2;
  EXPECT_EQ(registry.Render(),
            "# HELP appends_total Appends.\n"
            "# TYPE appends_total counter\n"
            "appends_total 1\n"
            "# HELP projection_lag Events behind.\\nPer projection.\n"
            "# TYPE projection_lag gauge\n"
            "projection_lag{projection=\"audit\"} 2\n"
            "projection_lag{projection=\"deadlines\"} 0\n");
}

TEST(MetricRegistryTest, ConcurrentObservationsAreAllCounted) {
  MetricRegistry registry;
  Counter* c = registry.GetCounter("n_total", "N.");
  Histogram* h = registry.GetHistogram("v", "V.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Increment();
        h->Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000u);
  EXPECT_EQ(h->count(), 40000u);
  EXPECT_DOUBLE_EQ(h->sum(), 20000);
}

TEST(MetricRegistryDeathTest, BadNamesAndTypeClashesAreBugs) {
  MetricRegistry registry;
  EXPECT_DEATH(registry.GetCounter("1bad", "x"), "bad metric name");
  EXPECT_DEATH(registry.GetCounter("ok", "x", {{"le", "1"}}), "bad label");
  registry.GetCounter("twice", "x");
  EXPECT_DEATH(registry.GetHistogram("twice", "x", {1}), "two types");
}

TEST(ExponentialBucketsTest, MultipliesFromStart) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

}  // namespace
}  // namespace ycr
