// python_json_dump must produce the bytes of Python's json.dump(obj, f, indent=4) (expected text below was produced
// by CPython 3's json module, an independent source).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "formats/py_json.h"

using mlx::formats::python_float_repr;
using mlx::formats::python_json_dump;

TEST(PyJson, MatchesPythonIndent4) {
  nlohmann::ordered_json j;
  j["a"] = 1e-06;
  j["b"] = {1, 2};
  j["c"] = nlohmann::ordered_json::object();
  j["d"] = "\xc3\xa9\xf0\x9f\x98\x80\n\x01\x7f/";
  j["e"] = nlohmann::ordered_json::array();
  j["f"] = 1e16;
  j["g"] = 123456789012345.6;
  j["h"] = 0.0001;
  j["i"] = 1.5e-05;
  j["j"] = nullptr;
  j["k"] = true;
  j["l"] = -0.0;
  j["m"] = 100.0;
  j["n"] = std::numeric_limits<double>::infinity();
  j["o"] = 2.5e+300;
  j["p"] = -3;
  const std::string expected = R"({
    "a": 1e-06,
    "b": [
        1,
        2
    ],
    "c": {},
    "d": "\u00e9\ud83d\ude00\n\u0001\u007f/",
    "e": [],
    "f": 1e+16,
    "g": 123456789012345.6,
    "h": 0.0001,
    "i": 1.5e-05,
    "j": null,
    "k": true,
    "l": -0.0,
    "m": 100.0,
    "n": Infinity,
    "o": 2.5e+300,
    "p": -3
})";
  EXPECT_EQ(python_json_dump(j, 4), expected);
}

TEST(PyJson, FloatRepr) {
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(1000000.0), "1000000.0");
  EXPECT_EQ(python_float_repr(500000.0), "500000.0");
  EXPECT_EQ(python_float_repr(1e-5), "1e-05");
  EXPECT_EQ(python_float_repr(0.02), "0.02");
  EXPECT_EQ(python_float_repr(1234567890123456.0), "1234567890123456.0");
  EXPECT_EQ(python_float_repr(12345678901234567.0), "1.2345678901234568e+16");
  EXPECT_EQ(python_float_repr(std::nan("")), "NaN");
  EXPECT_EQ(python_float_repr(-2.5), "-2.5");
}
