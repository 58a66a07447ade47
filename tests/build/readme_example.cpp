// The README's embedding example, compiled as it is printed (tests/build/CMakeLists.txt
// copies the README's first C++ block into readme_example.inc at configure time) and held to
// what its comments promise: a valid model is made, it learns, and a NaN leaves it unchanged.
#include <cmath>
#include <cstdio>
#include <limits>

#include "readme_example.inc"

int main() {
  auto made = make_model();
  if (!made.has_value()) {
    std::fprintf(stderr, "make_model: %s\n", made.error().message.c_str());
    return 1;
  }
  livefit::rls<double, 3>& model = made.value();

  // A noise-free linear stream y = 2 x0 - x1 + 0.5 x2 over non-collinear features: after 400
  // updates the ridge prior weighs lambda^400 * 1e-2 = 2e-4 against O(50) of data, so the
  // forecast error must be far below 1e-3 (a bound with a wide margin, not a measured fit).
  double error = 0.0;
  for (int i = 0; i < 400; ++i) {
    const double t = 0.1 * i;
    const Eigen::Vector3d x(std::cos(t), std::sin(0.7 * t), 1.0);
    const double y = 2.0 * x[0] - x[1] + 0.5 * x[2];
    error = std::abs(on_tick(model, x, y) - y);
  }
  if (!(error < 1e-3)) {
    std::fprintf(stderr, "the model did not learn: last forecast error %g\n", error);
    return 1;
  }

  const Eigen::Vector3d before = model.coefficients();
  const Eigen::Vector3d bad(std::numeric_limits<double>::quiet_NaN(), 0.0, 1.0);
  static_cast<void>(on_tick(model, bad, 1.0));
  if (model.coefficients() != before) {
    std::fprintf(stderr, "a NaN input changed the coefficients\n");
    return 1;
  }
  std::printf("README example: last forecast error %g, NaN input refused\n", error);
  return 0;
}
