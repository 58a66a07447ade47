// The whole library, compiled and run with -fno-exceptions (see tests/build/CMakeLists.txt):
// hosts such as trading engines build that way, and livefit promises to work there. Beyond
// parsing every header, it instantiates the core vocabulary's templates, since an exception
// used inside a template is only diagnosed when the template is instantiated.
#include <cstdio>
#include <string_view>

#include "livefit/livefit.hpp"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "this translation unit must be compiled with exceptions disabled"
#endif

namespace {

livefit::result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return livefit::fail(livefit::errc::invalid_argument, "not a digit");
  return c - '0';
}

}  // namespace

int main() {
  int failures = 0;
  const auto good = parse_digit('7');
  const auto bad = parse_digit('x');
  if (!good.has_value() || good.value() != 7) ++failures;
  if (bad.has_value() || bad.error().code != livefit::errc::invalid_argument) ++failures;

  livefit::fixed_string<24> text("p=");
  text.append(0.5);
  if (text.view() != "p=0.5") ++failures;

  Eigen::Vector3f v(1.0f, -2.0f, 0.5f);
  livefit::byte_writer writer;
  writer.put_string("livefit.check");
  writer.put_matrix(v);
  livefit::byte_reader reader(writer.bytes());
  std::string_view name;
  Eigen::Vector3f back = Eigen::Vector3f::Zero();
  if (!reader.get_string(name) || name != "livefit.check") ++failures;
  if (!reader.get_matrix(back) || !reader.done() || back != v) ++failures;

  if (failures != 0) std::fprintf(stderr, "no-exceptions check: %d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
