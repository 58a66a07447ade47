// Small models for the registry, checkpoint and lineage tests.
#ifndef LIVEFIT_TESTS_DEPLOY_REGISTRY_TEST_MODELS_HPP
#define LIVEFIT_TESTS_DEPLOY_REGISTRY_TEST_MODELS_HPP

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <Eigen/Core>

#include "livefit/core.hpp"

namespace livefit::test {

/// A linear model y = w.x learning by normalised LMS (step mu / (1 + |x|^2)); checkpointable.
/// Simple enough that the tests know its exact arithmetic, rich enough to replay.
template <class Scalar, int D>
class linear_model {
 public:
  using scalar_type = Scalar;
  using vector_type = Eigen::Matrix<Scalar, D, 1>;
  static constexpr std::string_view checkpoint_type = "livefit.test.linear";

  explicit linear_model(Eigen::Index dim = D > 0 ? D : 1, Scalar fill = Scalar(0),
                        Scalar mu = Scalar(0.5))
      : w_(vector_type::Constant(dim, fill)), mu_(mu) {}

  [[nodiscard]] Scalar predict(const vector_type& x) const noexcept { return w_.dot(x); }
  [[nodiscard]] Eigen::Index dim() const noexcept { return w_.size(); }

  [[nodiscard]] status update(const vector_type& x, Scalar y) noexcept {
    if (x.size() != w_.size()) return status::dimension_mismatch;
    if (!x.allFinite() || !std::isfinite(y)) return status::non_finite_input;
    const Scalar err = y - w_.dot(x);
    const Scalar step = mu_ / (Scalar(1) + x.squaredNorm());
    w_ += (step * err) * x;
    return status::ok;
  }

  void save_state(byte_writer& w) const {
    w.put_scalar(mu_);
    w.put_matrix(w_);
  }
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    Scalar mu{};
    vector_type w = w_;
    if (!r.get_scalar(mu) || !r.get_matrix(w)) return status::invalid_argument;
    if (!std::isfinite(mu) || !w.allFinite()) return status::non_finite_input;
    mu_ = mu;
    w_ = w;
    return status::ok;
  }

  [[nodiscard]] const vector_type& coefficients() const noexcept { return w_; }
  vector_type& coefficients() noexcept { return w_; }

 private:
  vector_type w_;
  Scalar mu_;
};

/// A fresh, empty directory under the system's temporary directory, removed at scope exit.
struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "livefit-deploy-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace livefit::test

#endif  // LIVEFIT_TESTS_DEPLOY_REGISTRY_TEST_MODELS_HPP
