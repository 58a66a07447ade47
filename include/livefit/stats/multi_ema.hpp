// multi_ema<Scalar, Dim>: the exponential moving average of many series observed together.
#ifndef LIVEFIT_STATS_MULTI_EMA_HPP
#define LIVEFIT_STATS_MULTI_EMA_HPP

#include <cmath>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <Eigen/Core>

#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"
#include "livefit/stats/detail/ema_weights.hpp"
#include "livefit/core/detail/finite.hpp"
#include "livefit/stats/ema_options.hpp"

namespace livefit {

/// Exponential moving averages of `dim()` series that are observed at the same steps (a row
/// of a panel per update): the same weights as `ema`, applied to every series at once with
/// SIMD across series.
///
/// @tparam Scalar float or double.
/// @tparam Dim number of series, or Eigen::Dynamic (fixed at make(), which allocates once).
/// The update reads its input once, checking it is finite while it writes the new averages
/// to a spare buffer that becomes current only if the row was clean (two buffers of dim()
/// values each); nothing allocates after make(). Copyable value type; not thread-safe.
template <class Scalar, int Dim = Eigen::Dynamic>
class multi_ema {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "livefit::multi_ema supports float and double only");
  static_assert(Dim == Eigen::Dynamic || Dim > 0, "multi_ema: Dim must be > 0 or Dynamic");

 public:
  /// The floating-point type of values and results (float or double).
  using scalar_type = Scalar;
  /// One observation of every series: a column vector of Dim values.
  using vector_type = Eigen::Matrix<Scalar, Dim, 1>;
  /// The options struct that make() validates.
  using options_type = ema_options;
  /// Stable type name written into checkpoints, so a file of another type is refused.
  static constexpr std::string_view checkpoint_type = "livefit.multi_ema";

  /// Validates `opts` and builds `dim` averages. `dim` is required for Eigen::Dynamic (the
  /// default 0 is rejected) and must equal Dim otherwise. An `initial_value` starts every
  /// series at that value.
  [[nodiscard]] static result<multi_ema> make(const ema_options& opts,
                                              Eigen::Index dim = Dim == Eigen::Dynamic ? 0 : Dim) {
    const result<double> a = detail::resolve_alpha(opts, "multi_ema");
    if (!a) return a.error();
    if (const result<void> s = detail::check_ema_start(opts, "multi_ema"); !s)
      return s.error();
    if (opts.initial_value && !std::isfinite(static_cast<Scalar>(*opts.initial_value)))
      return detail::range_error("multi_ema", "initial_value", "within the scalar type's range",
                                 *opts.initial_value);
    if (Dim == Eigen::Dynamic ? dim < 1 : dim != Dim)
      return detail::range_error("multi_ema", "dim",
                                 Dim == Eigen::Dynamic ? "at least 1" : "equal to Dim",
                                 static_cast<double>(dim));
    return multi_ema(static_cast<Scalar>(*a), opts, dim);
  }

  /// Adds one observation of every series.
  /// @return status::ok; status::dimension_mismatch when x.size() != dim();
  ///         status::non_finite_input when any value is NaN or infinite;
  ///         status::numerical_failure when an average would overflow. On error nothing
  ///         changes (use the missing-value mode's skip() for a step with no data).
  template <class Derived>
  [[nodiscard]] status update(const Eigen::MatrixBase<Derived>& x) noexcept {
    static_assert(Derived::ColsAtCompileTime == 1, "multi_ema::update takes a column vector");
    if (x.size() != y_[0].size()) [[unlikely]]
      return status::dimension_mismatch;
    const bool steady = w_.steady();
    const detail::ema_step<Scalar> s =
        steady ? detail::ema_step<Scalar>{w_.keep(), w_.take(), Scalar(1)} : w_.next();
    // The new averages go to the spare buffer, checked in the same pass; only a clean row
    // makes them current, so a bad value leaves the state as it was, at one read of x.
    Scalar* out = y_[cur_ ^ 1u].data();
    const Scalar* in = y_[cur_].data();
    if constexpr (detail::is_contiguous_vector<Derived>) {
      const Scalar* xs = x.derived().data();
      // One test of the new averages catches both faults (take > 0, so a NaN or infinite x
      // makes its average non-finite too); which one it was is sorted out off the fast path.
      detail::bits_of<Scalar> bad = 0;
      for (Eigen::Index j = 0; j < y_[0].size(); ++j) {
        const Scalar v = s.keep * in[j] + s.take * xs[j];
        out[j] = v;
        bad |= detail::non_finite_bit(v);
      }
      if (bad != 0) [[unlikely]] {
        // Finite values near the scalar's maximum can average past it (keep*max + take*max).
        return detail::all_finite(xs, y_[0].size()) ? status::numerical_failure
                                                    : status::non_finite_input;
      }
    } else {
      if (!x.allFinite()) [[unlikely]]
        return status::non_finite_input;
      y_[cur_ ^ 1u].array() = s.keep * y_[cur_].array() + s.take * x.array();
      if (!y_[cur_ ^ 1u].allFinite()) [[unlikely]]
        return status::numerical_failure;
    }
    cur_ = static_cast<std::uint8_t>(cur_ ^ 1u);
    if (steady)
      w_.commit_steady();
    else
      w_.commit(s);
    return status::ok;
  }

  /// Records a step with no observation of any series, as ema::skip().
  // LIMITATION: a step is missing for all series or none; per-series gaps need one ema each.
  [[nodiscard]] status skip() noexcept { return w_.skip(); }

  /// The current averages. Before any observation: the initial value, or zeros.
  [[nodiscard]] const vector_type& value() const noexcept { return y_[cur_]; }
  /// True once `warmup` observations were seen (and there is a value to report).
  [[nodiscard]] bool ready() const noexcept { return w_.ready(); }
  /// Number of series.
  [[nodiscard]] Eigen::Index dim() const noexcept { return y_[0].size(); }
  /// Observations taken.
  [[nodiscard]] std::uint64_t count() const noexcept { return w_.count(); }
  /// The smoothing factor in (0, 1].
  [[nodiscard]] Scalar alpha() const noexcept { return w_.alpha(); }

  /// Returns to the state right after make(); does not allocate.
  void reset() noexcept {
    w_.reset();
    y_[cur_].setConstant(initial_);
  }

  /// Writes the state (not the options).
  void save_state(byte_writer& w) const {
    detail::put_record_header<Scalar>(w, layout_);
    w_.save(w);
    w.put_matrix(y_[cur_]);
  }

  /// Reads a state written by save_state of a multi_ema with the same options and dim.
  /// @return status::ok, or status::invalid_argument with the state unchanged. Does not
  ///         allocate: the values are checked in a first pass, then read into place.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    detail::ema_weights<Scalar> w;
    if (!detail::get_record_header<Scalar>(r, layout_) || !w_.load(r, w))
      return status::invalid_argument;
    byte_reader probe = r;  // validation pass: shape, length and finiteness
    std::uint64_t rows = 0, cols = 0;
    if (!probe.get_u64(rows) || !probe.get_u64(cols) ||
        rows != static_cast<std::uint64_t>(y_[0].size()) || cols != 1)
      return status::invalid_argument;
    for (std::uint64_t i = 0; i < rows; ++i) {
      Scalar v{};
      if (!probe.get_scalar(v) || !std::isfinite(v)) return status::invalid_argument;
    }
    if (!r.get_matrix(y_[cur_])) return status::invalid_argument;  // cannot fail now
    w_ = w;
    return status::ok;
  }

 private:
  static constexpr std::uint8_t layout_ = 1;

  multi_ema(Scalar a, const ema_options& o, Eigen::Index dim)
      : w_(a, o),
        y_{vector_type::Constant(dim, start_value(o)),
           vector_type::Constant(dim, start_value(o))},
        initial_(start_value(o)) {}

  static Scalar start_value(const ema_options& o) noexcept {
    return o.initial_value ? static_cast<Scalar>(*o.initial_value) : Scalar(0);
  }

  detail::ema_weights<Scalar> w_;
  vector_type y_[2];  ///< The current averages y_[cur_], and a spare for the next update.
  std::uint8_t cur_{0};
  Scalar initial_;
};

}  // namespace livefit

#endif  // LIVEFIT_STATS_MULTI_EMA_HPP
