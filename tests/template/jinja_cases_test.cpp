// Templates rendered by jinja2 itself (tests/template/gen_expectations.py → jinja_cases.jsonl): our interpreter must
// produce the same bytes, or fail where jinja2 failed.
#include <gtest/gtest.h>

#include <sstream>

#include "common/fixtures.h"
#include "core/error.h"
#include "core/file_io.h"
#include "template/template.h"

namespace {

using json = nlohmann::ordered_json;

TEST(JinjaCases, MatchJinja2) {
  std::istringstream lines(mlx::read_file(mlx::test::test_data_dir().parent_path() / "template" / "jinja_cases.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++n;
    json c = json::parse(line);
    std::string name = c["name"].get<std::string>();
    try {
      std::string out = mlx::tmpl::Template::parse(c["template"].get<std::string>(), name).render(c["vars"]);
      if (c.contains("error")) ADD_FAILURE() << name << ": jinja2 failed with '" << c["error"].get<std::string>() << "', we rendered: " << out;
      else EXPECT_EQ(out, c["rendered"].get<std::string>()) << name;
    } catch (const mlx::Error& e) {
      if (!c.contains("error")) ADD_FAILURE() << name << ": " << e.what();
    }
  }
  EXPECT_GT(n, 50);
}

// The messages that users see for each class of bad template.
TEST(TemplateErrors, SyntaxErrorsNameLineAndColumn) {
  struct Case {
    const char* src;
    const char* where;
  } cases[] = {
      {"{{ 1 + }}", "t:1:8:"},
      {"ok\n{% if x %}", "t:2:11:"},
      {"{% for x in y %}{% endif %}", "t:1:20:"},
      {"\n\n  {{ 'unterminated }}", "t:3:6:"},
      {"{% frobnicate %}", "t:1:4:"},
      {"{{ (1 }}", "t:1:8:"},
      {"{# never closed", "t:1:1:"},
      {"{% break %}", "t:1:4:"},
  };
  for (const auto& c : cases) {
    try {
      mlx::tmpl::Template::parse(c.src, "t");
      ADD_FAILURE() << "no error for " << c.src;
    } catch (const mlx::Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(c.where, 0), 0u) << c.src << " → " << e.what();
      EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
    }
  }
}

TEST(TemplateErrors, RaiseExceptionIsItsMessage) {
  auto t = mlx::tmpl::Template::parse("{{ raise_exception('Only user and assistant roles are supported!') }}");
  try {
    t.render(json::object());
    FAIL();
  } catch (const mlx::tmpl::TemplateRaise& e) {
    EXPECT_STREQ(e.what(), "TemplateError: Only user and assistant roles are supported!");
  }
}

TEST(TemplateLimits, HostileTemplatesStop) {
  mlx::tmpl::Limits lim;
  lim.max_output = 1 << 20;
  lim.max_steps = 100000;
  const char* hostile[] = {
      "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
      "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
      "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
      "{{ 'x' * 100000000000 }}",
      "{{ range(10000000000)|list }}",
      "{{ [1] * 100000000000 }}",
      "{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}",
  };
  for (const char* src : hostile) {
    EXPECT_THROW(mlx::tmpl::Template::parse(src).render(json::object(), lim), mlx::Error) << src;
  }
  std::string deep(5000, '(');
  EXPECT_THROW(mlx::tmpl::Template::parse("{{ " + deep + " }}"), mlx::Error);
}

TEST(TemplateFeatures, GenerationBlockAndStrftime) {
  EXPECT_EQ(mlx::tmpl::Template::parse("{% generation %}kept{% endgeneration %}").render(json::object()), "kept");
  std::string year = mlx::tmpl::Template::parse("{{ strftime_now('%Y') }}").render(json::object());
  EXPECT_EQ(year.size(), 4u);
  EXPECT_EQ(mlx::tmpl::Template::parse("{{ strftime_now('%d %B %Y')|length > 8 }}").render(json::object()), "True");
}

}  // namespace
