// What a user's program does with livefit, compiled by every consumer project (find_package,
// add_subdirectory, pkg-config): include the umbrella, check the version the build system
// found against the headers, make a result, write a reason, round-trip a matrix through the
// checkpoint byte streams. Exits 1 with a message on the first disagreement.
#include <cstdio>
#include <cstring>
#include <string_view>

#include <Eigen/Core>

#include "livefit/livefit.hpp"

namespace {

int failed(const char* what) {
  std::fprintf(stderr, "livefit consumer: %s\n", what);
  return 1;
}

livefit::result<double> checked_weight(double w) {
  if (!(w > 0.0 && w <= 1.0)) return livefit::fail(livefit::errc::invalid_argument, "bad weight");
  return w;
}

}  // namespace

int main() {
  // LIVEFIT_EXPECTED_VERSION comes from the consumer's build: the version CMake or
  // pkg-config reported for the package must be the one in the headers it compiles against.
  if (std::string_view(livefit::version_string) != LIVEFIT_EXPECTED_VERSION)
    return failed("version_string differs from the package version");
  static_assert(LIVEFIT_VERSION == LIVEFIT_VERSION_MAJOR * 10000 + LIVEFIT_VERSION_MINOR * 100 +
                                       LIVEFIT_VERSION_PATCH);

  if (!checked_weight(0.5).has_value()) return failed("a valid weight was refused");
  const auto bad = checked_weight(1.5);
  if (bad.has_value() || bad.error().code != livefit::errc::invalid_argument)
    return failed("an invalid weight was accepted");

  livefit::fixed_string<32> reason("weight=");
  reason.append(0.25);
  if (reason.view() != "weight=0.25") return failed("fixed_string text");

  Eigen::Matrix2d m;
  m << 1.0, -2.5, 0.125, 4.0;
  livefit::byte_writer writer;
  writer.put_matrix(m);
  livefit::byte_reader reader(writer.bytes());
  Eigen::Matrix2d back = Eigen::Matrix2d::Zero();
  if (!reader.get_matrix(back) || !reader.done() || back != m)
    return failed("matrix round trip through byte_writer/byte_reader");

  std::printf("livefit %s consumer: ok\n", livefit::version_string);
  return 0;
}
