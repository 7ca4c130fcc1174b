// Sampler filters and logits processors against hand-computed expectations (mlx_lm sample_utils semantics).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "core/error.h"
#include "runtime/logits_processors.h"
#include "runtime/sampler.h"
#include "runtime/stop_strings.h"

namespace rt = mlx::runtime;

namespace {
const float kNegInf = -std::numeric_limits<float>::infinity();

// log of the given probabilities (they sum to 1, so these are already normalised log-probabilities).
std::vector<float> logs(std::vector<float> probs) {
  for (float& p : probs) p = std::log(p);
  return probs;
}

std::vector<bool> kept(const std::vector<float>& lp) {
  std::vector<bool> k;
  for (float v : lp) k.push_back(v != kNegInf);
  return k;
}
}  // namespace

TEST(Sampler, NormalizeGivesLogSoftmax) {
  std::vector<float> v = {1.0f, 2.0f, 3.0f};
  rt::normalize_logprobs(v);
  double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(v[0], 1.0 - lse, 1e-6);
  EXPECT_NEAR(v[2], 3.0 - lse, 1e-6);
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  // probs 0.5, 0.3, 0.15, 0.05. Ascending cumsum: 0.05, 0.20, 0.50, 1.0; keep where cumsum > 1 - p.
  auto lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  rt::apply_top_p(lp, 0.7f);  // > 0.3: keeps 0.5 (cum 1.0) and 0.3 (cum 0.5)
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, false, false}));
  lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  rt::apply_top_p(lp, 0.9f);  // > 0.1: also 0.15 (cum 0.20)
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, true, false}));
  lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  rt::apply_top_p(lp, 0.4f);  // > 0.6: only the top token
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, false, false, false}));
}

TEST(Sampler, MinPScalesByTopProbability) {
  // top prob 0.5, min_p 0.25 -> threshold 0.125: 0.15 stays, 0.05 goes.
  auto lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  rt::apply_min_p(lp, 0.25f, 1);
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, true, false}));
  // min_p 0.9 -> threshold 0.45: only the top; min_tokens_to_keep 3 keeps the three largest.
  lp = logs({0.3f, 0.5f, 0.05f, 0.15f});
  rt::apply_min_p(lp, 0.9f, 1);
  EXPECT_EQ(kept(lp), (std::vector<bool>{false, true, false, false}));
  lp = logs({0.3f, 0.5f, 0.05f, 0.15f});
  rt::apply_min_p(lp, 0.9f, 3);
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, false, true}));
}

TEST(Sampler, XtcRemovesEveryTopChoiceButTheLeastLikelyAboveThreshold) {
  // threshold 0.1: above it are 0.5, 0.3, 0.15; the smallest of them (0.15) survives, the larger two go.
  auto lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  rt::apply_xtc(lp, 1.0f, 0.1f, {}, 0.5);
  EXPECT_EQ(kept(lp), (std::vector<bool>{false, false, true, true}));
  // Special tokens (newline, EOS) are never removed.
  lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  std::vector<int32_t> special = {0};
  rt::apply_xtc(lp, 1.0f, 0.1f, special, 0.5);
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, false, true, true}));
  // The draw decides: draw > probability leaves the logits alone.
  lp = logs({0.5f, 0.3f, 0.15f, 0.05f});
  rt::apply_xtc(lp, 0.25f, 0.1f, {}, 0.5);
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, true, true}));
  // Only one token above the threshold: nothing is removed.
  lp = logs({0.9f, 0.04f, 0.03f, 0.03f});
  rt::apply_xtc(lp, 1.0f, 0.1f, {}, 0.0);
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, true, true}));
}

TEST(Sampler, TopKKeepsTheKLargest) {
  auto lp = logs({0.1f, 0.4f, 0.2f, 0.3f});
  rt::apply_top_k(lp, 2);
  EXPECT_EQ(kept(lp), (std::vector<bool>{false, true, false, true}));
  lp = logs({0.1f, 0.4f, 0.2f, 0.3f});
  rt::apply_top_k(lp, 4);  // k >= vocab: no-op
  EXPECT_EQ(kept(lp), (std::vector<bool>{true, true, true, true}));
}

TEST(Sampler, GreedyAtTemperatureZero) {
  rt::SamplerParams p;
  rt::Sampler s(p, 1);
  auto lp = logs({0.1f, 0.4f, 0.2f, 0.3f});
  EXPECT_EQ(s.sample(lp), 1);
  EXPECT_EQ(rt::argmax(std::vector<float>{1.0f, 3.0f, 3.0f}), 1);  // first of ties
}

TEST(Sampler, SeededSamplingIsDeterministicAndFollowsTheDistribution) {
  rt::SamplerParams p;
  p.temp = 1.0f;
  auto lp = logs({0.1f, 0.6f, 0.3f});
  std::vector<int32_t> a, b;
  rt::Sampler s1(p, 42), s2(p, 42);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 20000; ++i) {
    a.push_back(s1.sample(lp));
    b.push_back(s2.sample(lp));
    counts[a.back()]++;
  }
  EXPECT_EQ(a, b);
  EXPECT_NEAR(counts[0] / 20000.0, 0.1, 0.015);
  EXPECT_NEAR(counts[1] / 20000.0, 0.6, 0.015);
  EXPECT_NEAR(counts[2] / 20000.0, 0.3, 0.015);
}

TEST(Sampler, FiltersComposeAndMaskedTokensAreNeverDrawn) {
  rt::SamplerParams p;
  p.temp = 5.0f;  // flatten what is left: every surviving token gets drawn sometimes
  p.top_k = 2;
  rt::Sampler s(p, 7);
  auto lp = logs({0.1f, 0.4f, 0.2f, 0.3f});
  for (int i = 0; i < 2000; ++i) {
    int32_t t = s.sample(lp);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
}

TEST(Sampler, ValidationRejectsOutOfRangeFlags) {
  rt::SamplerParams p;
  p.xtc_threshold = 0.6f;
  EXPECT_THROW(rt::validate(p), mlx::UsageError);
  p = {};
  p.top_p = 1.5f;
  EXPECT_THROW(rt::validate(p), mlx::UsageError);
  p = {};
  p.min_tokens_to_keep = 0;
  EXPECT_THROW(rt::validate(p), mlx::UsageError);
}

TEST(LogitsProcessors, RepetitionPenaltyIsSignAwareAndAppliedOncePerToken) {
  rt::LogitsProcessorParams p;
  p.repetition_penalty = 2.0f;
  std::vector<float> logits = {4.0f, -4.0f, 1.0f, 8.0f};
  std::vector<int32_t> history = {0, 1, 0, 0};
  rt::apply_logits_processors(p, history, logits);
  EXPECT_EQ(logits, (std::vector<float>{2.0f, -8.0f, 1.0f, 8.0f}));
}

TEST(LogitsProcessors, ContextSizeLimitsTheWindow) {
  rt::LogitsProcessorParams p;
  p.repetition_penalty = 2.0f;
  p.repetition_context_size = 2;
  std::vector<float> logits = {4.0f, 4.0f, 4.0f, 4.0f};
  std::vector<int32_t> history = {0, 1, 2};  // only the last two (1, 2) count
  rt::apply_logits_processors(p, history, logits);
  EXPECT_EQ(logits, (std::vector<float>{4.0f, 2.0f, 2.0f, 4.0f}));
}

TEST(LogitsProcessors, PresenceOncePerDistinctFrequencyPerOccurrence) {
  rt::LogitsProcessorParams p;
  p.presence_penalty = 0.5f;
  std::vector<float> logits = {1.0f, 1.0f, 1.0f};
  std::vector<int32_t> history = {0, 0, 0, 2};
  rt::apply_logits_processors(p, history, logits);
  EXPECT_EQ(logits, (std::vector<float>{0.5f, 1.0f, 0.5f}));
  rt::LogitsProcessorParams f;
  f.frequency_penalty = 0.5f;
  logits = {1.0f, 1.0f, 1.0f};
  rt::apply_logits_processors(f, history, logits);
  EXPECT_EQ(logits, (std::vector<float>{-0.5f, 1.0f, 0.5f}));
}

TEST(LogitsProcessors, LogitBiasComesFirstAndAppliesWithoutHistory) {
  rt::LogitsProcessorParams p;
  p.logit_bias = {{1, 3.0f}};
  p.repetition_penalty = 2.0f;
  std::vector<float> logits = {1.0f, 1.0f};
  rt::apply_logits_processors(p, std::vector<int32_t>{}, logits);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 4.0f}));
  logits = {1.0f, 1.0f};
  rt::apply_logits_processors(p, std::vector<int32_t>{1}, logits);  // bias, then the penalty: (1 + 3) / 2
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 2.0f}));
}

TEST(StopStrings, NeverPrintedAndPrefixesHeldBack) {
  rt::StopStringFilter f({"STOP"});
  auto r = f.push("hello S");
  EXPECT_EQ(r.text, "hello ");
  EXPECT_FALSE(r.stopped);
  r = f.push("T");
  EXPECT_EQ(r.text, "");
  r = f.push("x");  // "STx" is not a stop: released
  EXPECT_EQ(r.text, "STx");
  r = f.push(" and ST");
  EXPECT_EQ(r.text, " and ");
  r = f.push("OP tail");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
}

TEST(StopStrings, FlushReleasesHeldText) {
  rt::StopStringFilter f({"\n\n", "END"});
  auto r = f.push("a\n");
  EXPECT_EQ(r.text, "a");
  EXPECT_EQ(f.flush(), "\n");
  r = f.push("xxENDyy");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "xx");
}
