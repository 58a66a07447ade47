// The exponentially weighted moments engine behind ew_variance and ew_covariance: pandas'
// ewmcov recursion, run on values shifted by the first observation.
#ifndef LIVEFIT_STATS_DETAIL_EW_MOMENTS_HPP
#define LIVEFIT_STATS_DETAIL_EW_MOMENTS_HPP

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "livefit/core/detail/finite.hpp"
#include "livefit/core/result.hpp"
#include "livefit/core/serialize.hpp"
#include "livefit/core/status.hpp"
#include "livefit/stats/detail/common.hpp"
#include "livefit/stats/ema_options.hpp"

namespace livefit {

/// Configuration of ew_variance and ew_covariance.
struct ew_moments_options {
  /// Smoothing (exactly one of alpha, span, com, halflife), adjust, warmup and missing-value
  /// mode, as for ema; `initial_value` must stay unset (moments start from data).
  ema_options ema{};
  /// false (the default, as pandas): the bias-corrected estimate, scaled by
  /// (sum w)^2 / ((sum w)^2 - sum w^2); true: the biased (population) estimate.
  bool bias{false};
};

namespace detail {

/// Validates ew_moments_options for the component `who`; returns alpha.
[[nodiscard]] inline result<double> check_moments(const ew_moments_options& o,
                                                  std::string_view who) {
  const result<double> a = resolve_alpha(o.ema, who);
  if (!a) return a;
  if (const result<void> s = check_ema_start(o.ema, who); !s) return s.error();
  if (o.ema.initial_value)
    return config_error(who, "initial_value is not supported (moments start from data)");
  return a;
}

/// pandas' ewmcov (pandas/_libs/window/aggregations.pyx) as a value type, for one series
/// (Paired = false) or a pair.
///
/// Numerical form: the means are updated as weighted averages and the co-moment as
///   c' = (w_old (c + (m_old - m)(n_old - n)) + w_new (x - m)(y - n)) / (w_old + w_new),
/// which never subtracts two large squares (unlike E[x^2] - E[x]^2, case C03). Every value
/// is also shifted by the first observation (exact for values within a factor 2 of it), so
/// a series near 1e9 that moves by 1e-3 is averaged at the scale of its moves: the mean is
/// kept as shift + offset, a two-term representation.
template <class Scalar, bool Paired>
class ew_moments {
 public:
  ew_moments() = default;
  ew_moments(Scalar a, const ew_moments_options& o) noexcept
      : a_(a), b_(Scalar(1) - a), warmup_(o.ema.warmup), adjust_(o.ema.adjust),
        bias_(o.bias), missing_(o.ema.missing) {}

  /// Adds (x, y) (for Paired = false, y is ignored), or changes nothing and returns false
  /// when a moment would overflow (squared deviations beyond the scalar's range, e.g. values
  /// that differ by more than about 1e154 in double). @pre x and y finite.
  [[nodiscard]] bool observe(Scalar x, Scalar y) noexcept {
    ew_moments next = *this;
    next.observe_unchecked(x, y);
    // One branch-free finiteness test over the candidate and everything it reports: the
    // bias correction (a factor >= 1) can overflow a moment that is itself finite (case:
    // 0, 1.3e154, -1.3e154 at alpha 0.5), and shift + offset can overflow a mean.
    // LIMITATION: the factor costs a division per update. It has no cheap bound (it grows
    // like 1 / (a (1 - a)) and without limit across skipped steps), so it is not filtered.
    const Scalar f = next.correction();
    const bits_of<Scalar> bad =
        non_finite_bit(next.cxx_ * f) | non_finite_bit(next.cyy_ * f) |
        non_finite_bit(next.cxy_ * f) | non_finite_bit(next.sx_ + next.mx_) |
        non_finite_bit(next.sy_ + next.my_) | non_finite_bit(next.mx_) |
        non_finite_bit(next.my_);
    if (bad != 0) [[unlikely]]
      return false;
    *this = next;
    return true;
  }

  /// A step with no observation. @return status::invalid_argument without a missing mode.
  [[nodiscard]] status skip() noexcept {
    if (missing_ == ema_missing::reject) return status::invalid_argument;
    if (missing_ == ema_missing::absolute && count_ > 0) decay();
    return status::ok;
  }

  [[nodiscard]] bool ready() const noexcept { return count_ >= warmup_; }
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] Scalar alpha() const noexcept { return a_; }
  [[nodiscard]] Scalar mean_x() const noexcept { return sx_ + mx_; }
  [[nodiscard]] Scalar mean_y() const noexcept { return sy_ + my_; }

  /// A co-moment, bias-corrected unless the options ask for the biased one; nullopt before
  /// ready() and when the correction is undefined ((sum w)^2 <= sum w^2: one observation).
  [[nodiscard]] std::optional<Scalar> finish(Scalar c) const noexcept {
    if (!ready() || count_ == 0) return std::nullopt;
    if (bias_) return c;
    const Scalar den = sum_wt_ * sum_wt_ - sum_wt2_;
    if (!(den > Scalar(0))) return std::nullopt;
    return correction() * c;
  }
  [[nodiscard]] Scalar cxx() const noexcept { return cxx_; }
  [[nodiscard]] Scalar cyy() const noexcept { return cyy_; }
  [[nodiscard]] Scalar cxy() const noexcept { return cxy_; }

  void reset() noexcept { *this = ew_moments(a_, b_, warmup_, adjust_, bias_, missing_); }

  void save(byte_writer& w) const {
    w.put_scalar(a_);
    w.put_u8(static_cast<std::uint8_t>(adjust_));
    w.put_u8(static_cast<std::uint8_t>(bias_));
    w.put_u8(static_cast<std::uint8_t>(missing_));
    for (Scalar v : {sx_, sy_, mx_, my_, cxx_, cyy_, cxy_, sum_wt_, sum_wt2_, old_wt_})
      w.put_scalar(v);
    w.put_u64(count_);
  }

  /// Reads what save() wrote into a copy, checks it, and only then commits.
  [[nodiscard]] bool load(byte_reader& r) noexcept {
    ew_moments next = *this;
    Scalar a{};
    std::uint8_t adjust = 0, bias = 0, missing = 0;
    if (!r.get_scalar(a) || !r.get_u8(adjust) || !r.get_u8(bias) || !r.get_u8(missing))
      return false;
    if (a != a_ || adjust != std::uint8_t{adjust_} || bias != std::uint8_t{bias_} ||
        missing != static_cast<std::uint8_t>(missing_))
      return false;
    for (Scalar* v : {&next.sx_, &next.sy_, &next.mx_, &next.my_, &next.cxx_, &next.cyy_,
                      &next.cxy_, &next.sum_wt_, &next.sum_wt2_, &next.old_wt_})
      if (!r.get_scalar(*v) || !std::isfinite(*v)) return false;
    if (!r.get_u64(next.count_)) return false;
    if (next.cxx_ < Scalar(0) || next.cyy_ < Scalar(0) || next.old_wt_ < Scalar(0)) return false;
    // What the recursion keeps (a valid CRC proves the bytes, not the state): weights
    // positive with sum w^2 <= (sum w)^2 (the weights are positive), |cxy| <= sqrt(cxx cyy)
    // (Cauchy-Schwarz, 1% slack for rounding), and the state after make() before a value.
    const Scalar slack = Scalar(1) + Scalar(64) * std::numeric_limits<Scalar>::epsilon();
    if (!(next.sum_wt_ >= Scalar(0)) || !(next.sum_wt2_ >= Scalar(0)) ||
        !(next.sum_wt2_ <= next.sum_wt_ * next.sum_wt_ * slack) ||
        !(std::abs(next.cxy_) <= Scalar(1.01) * std::sqrt(next.cxx_) * std::sqrt(next.cyy_) +
                                     std::numeric_limits<Scalar>::min()) ||
        !(Paired || (next.sy_ == Scalar(0) && next.my_ == Scalar(0) && next.cyy_ == Scalar(0) &&
                     next.cxy_ == Scalar(0))))
      return false;
    if (next.count_ == 0 && !(next.sx_ == Scalar(0) && next.mx_ == Scalar(0) &&
                              next.cxx_ == Scalar(0) && next.sy_ == Scalar(0) &&
                              next.my_ == Scalar(0)))
      return false;
    // Every weight decays together, so a finite moment with (sum w)^2 > 0 is well formed;
    // the reported moments must also be finite (as observe() guarantees).
    const Scalar f = next.correction();
    if (!std::isfinite(next.cxx_ * f) || !std::isfinite(next.cyy_ * f) ||
        !std::isfinite(next.sx_ + next.mx_) || !std::isfinite(next.sy_ + next.my_))
      return false;
    *this = next;
    return true;
  }

 private:
  ew_moments(Scalar a, Scalar b, std::uint64_t warmup, bool adjust, bool bias,
             ema_missing missing) noexcept
      : a_(a), b_(b), warmup_(warmup), adjust_(adjust), bias_(bias), missing_(missing) {}

  // The factor finish() applies: (sum w)^2 / ((sum w)^2 - sum w^2), or 1 where finish()
  // applies none (biased estimate, or the correction undefined).
  [[nodiscard]] Scalar correction() const noexcept {
    if (bias_) return Scalar(1);
    const Scalar num = sum_wt_ * sum_wt_;
    const Scalar den = num - sum_wt2_;
    return den > Scalar(0) ? num / den : Scalar(1);
  }

  // One step of pandas' recursion, in place.
  void observe_unchecked(Scalar x, Scalar y) noexcept {
    if (count_ == 0) {
      // pandas starts the means at the first value with co-moments 0 and unit weights.
      sx_ = x;
      sy_ = Paired ? y : Scalar(0);
      mx_ = my_ = cxx_ = cyy_ = cxy_ = Scalar(0);
      sum_wt_ = sum_wt2_ = old_wt_ = Scalar(1);
      count_ = 1;
      return;
    }
    decay();
    const Scalar fresh = adjust_ ? Scalar(1) : a_;
    const Scalar r = Scalar(1) / (old_wt_ + fresh);
    const Scalar keep = old_wt_ * r;
    const Scalar take = fresh * r;
    const Scalar dx = x - sx_;
    const Scalar mx_old = mx_;
    // pandas skips the mean update when it already equals the value, so that a constant
    // series keeps a co-moment of exactly 0.
    if (mx_ != dx) mx_ = keep * mx_ + take * dx;
    const Scalar ex = dx - mx_;
    const Scalar ux = mx_old - mx_;
    cxx_ = keep * (cxx_ + ux * ux) + take * (ex * ex);
    if constexpr (Paired) {
      const Scalar dy = y - sy_;
      const Scalar my_old = my_;
      if (my_ != dy) my_ = keep * my_ + take * dy;
      const Scalar ey = dy - my_;
      const Scalar uy = my_old - my_;
      cyy_ = keep * (cyy_ + uy * uy) + take * (ey * ey);
      cxy_ = keep * (cxy_ + ux * uy) + take * (ex * ey);
    }
    sum_wt_ += fresh;
    sum_wt2_ += fresh * fresh;
    old_wt_ += fresh;
    if (!adjust_) {
      // The plain form renormalises so that the old weight is 1 again.
      sum_wt_ /= old_wt_;
      sum_wt2_ /= old_wt_ * old_wt_;
      old_wt_ = Scalar(1);
    }
    ++count_;
  }

  // Every weight decays by one step (an observation, or a missing step in absolute mode).
  void decay() noexcept {
    sum_wt_ *= b_;
    sum_wt2_ *= b_ * b_;
    old_wt_ *= b_;
  }

  Scalar a_{1}, b_{0};
  std::uint64_t warmup_{1};
  bool adjust_{false}, bias_{false};
  ema_missing missing_{ema_missing::reject};
  Scalar sx_{0}, sy_{0};    // shifts: the first observation
  Scalar mx_{0}, my_{0};    // means, relative to the shifts
  Scalar cxx_{0}, cyy_{0}, cxy_{0};  // biased co-moments
  Scalar sum_wt_{1}, sum_wt2_{1}, old_wt_{1};
  std::uint64_t count_{0};
};

/// The members ew_variance and ew_covariance share: missing steps, readiness, reset and the
/// checkpoint, over one ew_moments engine.
template <class Scalar, bool Paired>
class ew_moments_base {
 public:
  /// A step with no observation, in the options' missing-value mode (as ema::skip()).
  /// @return status::ok; status::invalid_argument when no missing-value mode is set.
  [[nodiscard]] status skip() noexcept { return m_.skip(); }
  /// True once `warmup` observations were seen.
  [[nodiscard]] bool ready() const noexcept { return m_.ready(); }
  /// Observations taken.
  [[nodiscard]] std::uint64_t count() const noexcept { return m_.count(); }
  /// Returns to the state right after make().
  void reset() noexcept { m_.reset(); }

  /// Writes the state (and the options it must be read back with).
  void save_state(byte_writer& w) const {
    put_record_header<Scalar>(w, layout_);
    m_.save(w);
  }
  /// Reads a state written by save_state of a component of the same type and options.
  /// @return status::ok, or status::invalid_argument with the state unchanged.
  [[nodiscard]] status load_state(byte_reader& r) noexcept {
    if (!get_record_header<Scalar>(r, layout_) || !m_.load(r)) return status::invalid_argument;
    return status::ok;
  }

 protected:
  explicit ew_moments_base(const ew_moments<Scalar, Paired>& m) noexcept : m_(m) {}
  ew_moments<Scalar, Paired> m_;

 private:
  static constexpr std::uint8_t layout_ = 1;
};

}  // namespace detail
}  // namespace livefit

#endif  // LIVEFIT_STATS_DETAIL_EW_MOMENTS_HPP
