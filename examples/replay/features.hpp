// stream_decoder: turns CSV rows into (x, y, time) samples, with the derived features that
// the replay configuration declares (intercept, raw columns, day-of-week dummies, yearly and
// daily harmonics, lags of the target).
//
// Missing cells (an empty field, "NA", "NaN", "null") in the target or a feature column are
// not errors: the row is skipped and counted, so one gap in a long stream does not stop a
// replay, and the summary reports how many rows were dropped. Any other text that is not a
// number is an error naming the file, line and column.
#ifndef LIVEFIT_EXAMPLES_REPLAY_FEATURES_HPP
#define LIVEFIT_EXAMPLES_REPLAY_FEATURES_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "calendar.hpp"
#include "csv_reader.hpp"
#include "report.hpp"
#include "livefit/core/result.hpp"
#include "livefit/stats/ema.hpp"

namespace livefit::replay {

/// Where a row's time comes from.
struct time_config {
  /// One column holding a date or date-time ("YYYY-MM-DD", "YYYYMMDD", "YYYY-MM-DD HH:MM[:SS]")
  /// or a plain number in the stream's own unit. Empty: see year/month/day.
  std::string column;
  /// Columns holding the year, month (1-12) and day of month, used when `column` is empty.
  std::string year, month, day;

  [[nodiscard]] bool from_parts() const noexcept { return column.empty() && !year.empty(); }
  [[nodiscard]] bool present() const noexcept { return !column.empty() || !year.empty(); }
};

/// The derived features of a stream. The feature vector is laid out in this order:
/// intercept, trend, columns, day-of-week dummies, yearly harmonics, daily harmonics, lags,
/// EMAs.
struct feature_config {
  /// A constant 1 as the first feature. Default: true.
  bool intercept{true};
  /// Time since the first row, in years of 365.25 days (date streams) or in the time column's
  /// unit: a linear trend. Default: false.
  bool trend{false};
  /// Numeric columns taken as features, in order.
  std::vector<std::string> columns;
  /// Multiplier of each column (same length as `columns`, or empty for 1). Default: empty.
  std::vector<double> scales;
  /// Six dummies for Monday..Saturday (Sunday is the baseline), from the row's date.
  bool day_of_week{false};
  /// Pairs sin/cos(2 pi k doy / 365.25) for k = 1..n, doy the day of the year. Default: 0.
  int yearly_harmonics{0};
  /// Pairs sin/cos(2 pi k h / 24) for k = 1..n, h the hour of the day. Default: 0.
  int daily_harmonics{0};
  /// Values of the target k rows earlier (rows skipped for missing cells do not count).
  std::vector<int> target_lags;
  /// Exponential moving averages of the earlier targets (stats/ema.hpp, recursive form),
  /// one per smoothing weight alpha in (0, 1]. Default: none.
  std::vector<double> target_emas;
};

/// Where the samples come from and how rows become samples.
struct stream_config {
  std::string file;    ///< CSV path, plain or gzip-compressed.
  std::string target;  ///< Column to predict.
  time_config time;    ///< Time source; optional unless a calendar feature needs a date.
  feature_config features;
};

/// True for the texts read as a missing cell.
[[nodiscard]] inline bool is_missing_cell(std::string_view s) noexcept {
  s = trim(s);
  return s.empty() || s == "NA" || s == "NaN" || s == "nan" || s == "null" || s == "NULL";
}

/// Decodes rows of one csv_reader into samples.
class stream_decoder {
 public:
  /// What decode() made of a row.
  enum class outcome : std::uint8_t {
    sample,          ///< x, y and time are set.
    missing,         ///< A needed cell was missing: skip the row (counted).
    lag_warming_up,  ///< Not enough earlier rows for a lag or EMA: skip the row (counted).
    error,           ///< Bad input: see the error.
  };

  /// Resolves column names against the reader's header and checks the feature set.
  static result<stream_decoder> make(const stream_config& cfg, const csv_reader& reader) {
    stream_decoder d;
    d.cfg_ = cfg.features;
    const feature_config& f = cfg.features;
    auto col = [&](const std::string& name) { return reader.column_index(name); };

    auto t = col(cfg.target);
    if (!t) return t.error();
    d.target_ = *t;
    if (!cfg.time.column.empty()) {
      auto c = col(cfg.time.column);
      if (!c) return c.error();
      d.time_col_ = *c;
    } else if (cfg.time.from_parts()) {
      for (const std::string* part : {&cfg.time.year, &cfg.time.month, &cfg.time.day}) {
        auto c = col(*part);
        if (!c) return c.error();
        d.ymd_.push_back(*c);
      }
    }
    if (!f.scales.empty() && f.scales.size() != f.columns.size()) {
      return fail(errc::invalid_argument, "features: scales must have one entry per column (" +
                                              std::to_string(f.columns.size()) + "), got " +
                                              std::to_string(f.scales.size()));
    }
    for (const auto& name : f.columns) {
      auto c = col(name);
      if (!c) return c.error();
      d.columns_.push_back(*c);
    }
    if ((f.day_of_week || f.yearly_harmonics > 0 || f.daily_harmonics > 0 || f.trend) &&
        !cfg.time.present()) {
      return fail(errc::invalid_argument,
                  "features: trend, day_of_week and harmonics need a time: set the time "
                  "column, or the year, month and day columns");
    }
    if (f.yearly_harmonics < 0 || f.yearly_harmonics > 12)
      return fail(errc::invalid_argument, "features: yearly_harmonics must be in [0, 12], got " +
                                              std::to_string(f.yearly_harmonics));
    if (f.daily_harmonics < 0 || f.daily_harmonics > 12)
      return fail(errc::invalid_argument, "features: daily_harmonics must be in [0, 12], got " +
                                              std::to_string(f.daily_harmonics));
    int max_lag = 0;
    for (int lag : f.target_lags) {
      if (lag < 1 || lag > 100000)
        return fail(errc::invalid_argument,
                    "features: target_lags must be in [1, 100000], got " + std::to_string(lag));
      max_lag = lag > max_lag ? lag : max_lag;
    }
    d.history_.assign(static_cast<std::size_t>(max_lag), 0.0);
    for (double a : f.target_emas) {
      ema_options eo;
      eo.alpha = a;
      auto e = ema<double>::make(eo);
      if (!e) return fail(errc::invalid_argument, "features: target_emas: " + e.error().message);
      d.emas_.push_back(std::move(*e));
    }
    d.names_ = feature_names(f);
    if (d.names_.empty()) return fail(errc::invalid_argument, "features: no feature selected");
    return d;
  }

  /// Names of the features, in vector order ("1", "births", "mon", "sin_year_1", ...).
  [[nodiscard]] static std::vector<std::string> feature_names(const feature_config& f) {
    std::vector<std::string> n;
    if (f.intercept) n.emplace_back("1");
    if (f.trend) n.emplace_back("trend");
    for (const auto& c : f.columns) n.push_back(c);
    if (f.day_of_week)
      for (const char* d : {"mon", "tue", "wed", "thu", "fri", "sat"}) n.emplace_back(d);
    for (int k = 1; k <= f.yearly_harmonics; ++k) {
      n.push_back("sin_year_" + std::to_string(k));
      n.push_back("cos_year_" + std::to_string(k));
    }
    for (int k = 1; k <= f.daily_harmonics; ++k) {
      n.push_back("sin_day_" + std::to_string(k));
      n.push_back("cos_day_" + std::to_string(k));
    }
    for (int lag : f.target_lags) n.push_back("lag_" + std::to_string(lag));
    for (double a : f.target_emas) {
      fixed_string<40> t("ema_");
      t.append(a);
      n.emplace_back(t.view());
    }
    return n;
  }

  /// Dimension of the feature vector.
  [[nodiscard]] Eigen::Index dim() const noexcept {
    return static_cast<Eigen::Index>(names_.size());
  }
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }

  /// Decodes the reader's current row into `x` (size dim()), `y` and `time` (days since
  /// 1970-01-01 for dates, the column's value for numbers, the row count when no time is set).
  template <class Vector>
  [[nodiscard]] outcome decode(const csv_reader& r, Vector& x, double& y, double& time,
                               livefit::error& err) {
    const auto& fields = r.fields();
    if (is_missing_cell(fields[target_])) return outcome::missing;
    if (!number(r, target_, y, err)) return outcome::error;

    // Time: a date or number column, or a date built from parts.
    double t = static_cast<double>(rows_);
    std::int64_t day = 0;
    if (time_col_ != npos) {
      const std::string_view s = trim(fields[time_col_]);
      if (parse_date_time(s, t)) {
        day = static_cast<std::int64_t>(std::floor(t));
      } else {
        day_based_ = false;  // a plain number in the stream's own unit
        if (!parse_double(s, t)) {
          err = fail(errc::format_error, r.where(time_col_) + ": '" + std::string(s) +
                                             "' is neither a date (YYYY-MM-DD[ HH:MM[:SS]], "
                                             "YYYYMMDD) nor a number");
          return outcome::error;
        }
        if (needs_date()) {
          err = fail(errc::format_error,
                     r.where(time_col_) + ": '" + std::string(s) +
                         "' is not a date, which the calendar features need");
          return outcome::error;
        }
      }
    } else if (!ymd_.empty()) {
      std::int64_t v[3] = {0, 0, 0};
      for (std::size_t i = 0; i < 3; ++i) {
        if (!parse_int(fields[ymd_[i]], v[i])) {
          err = fail(errc::format_error, r.where(ymd_[i]) + ": '" +
                                             std::string(trim(fields[ymd_[i]])) +
                                             "' is not an integer");
          return outcome::error;
        }
      }
      if (v[1] < 1 || v[1] > 12 || v[2] < 1 ||
          v[2] > days_in_month(v[0], static_cast<int>(v[1]))) {
        err = fail(errc::format_error, r.where(ymd_[2]) + ": " + std::to_string(v[0]) + "-" +
                                           std::to_string(v[1]) + "-" + std::to_string(v[2]) +
                                           " is not a date");
        return outcome::error;
      }
      day = days_from_civil(v[0], static_cast<int>(v[1]), static_cast<int>(v[2]));
      t = static_cast<double>(day);
    }
    // Both times as in the file (the date's own text, not a day count) so that the user can
    // find the rows.
    if (rows_ > 0 && t < last_time_) {
      const std::string what =
          time_col_ != npos
              ? r.where(time_col_) + ": '" + std::string(trim(fields[time_col_])) + "'"
              : r.path() + ":" + std::to_string(r.line()) + ": the date " + ymd_text(fields) +
                    " (columns " + ymd_names(r) + ")";
      err = fail(errc::format_error, what + " is earlier than the previous row's time, " +
                                         format_time(last_time_, day_based_) +
                                         " (the stream must be in time order)");
      return outcome::error;
    }

    Eigen::Index i = 0;
    if (cfg_.intercept) x[i++] = 1.0;
    if (cfg_.trend) {
      if (rows_ == 0) first_time_ = t;
      x[i++] = (t - first_time_) / (day_based_ ? 365.25 : 1.0);
    }
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      double v = 0.0;
      if (is_missing_cell(fields[columns_[c]])) return outcome::missing;
      if (!number(r, columns_[c], v, err)) return outcome::error;
      x[i++] = cfg_.scales.empty() ? v : v * cfg_.scales[c];
    }
    if (cfg_.day_of_week) {
      const int wd = iso_weekday(day);
      for (int k = 1; k <= 6; ++k) x[i++] = wd == k ? 1.0 : 0.0;
    }
    if (cfg_.yearly_harmonics > 0) {
      // Rows of one day share their yearly terms: compute them once per day.
      if (!year_cached_ || day != cached_day_) {
        const double doy = static_cast<double>(day_of_year(day));
        harmonics(cfg_.yearly_harmonics, doy / 365.25, year_terms_);
        cached_day_ = day;
        year_cached_ = true;
      }
      for (double v : year_terms_) x[i++] = v;
    }
    if (cfg_.daily_harmonics > 0) {
      // Streams in time order repeat a time stamp for many rows (flights: about 16 per
      // minute): compute the terms when the time changes.
      if (!day_cached_ || t != cached_time_) {
        harmonics(cfg_.daily_harmonics, t - std::floor(t), day_terms_);
        cached_time_ = t;
        day_cached_ = true;
      }
      for (double v : day_terms_) x[i++] = v;
    }

    // Lags read the ring of earlier targets; the current target enters it only afterwards.
    const std::size_t n_hist = history_.size();
    const bool lags_ready = valid_rows_ >= n_hist;
    for (int lag : cfg_.target_lags) {
      const std::size_t back = static_cast<std::size_t>(lag);
      if (lags_ready) x[i++] = history_[(head_ + n_hist - back) % n_hist];
    }
    if (n_hist > 0) {
      history_[head_] = y;
      head_ = (head_ + 1) % n_hist;
    }
    // EMAs likewise give the average of the earlier targets, then take this one (y is
    // finite here, so update() accepts it).
    const bool emas_ready = emas_.empty() || valid_rows_ > 0;
    for (auto& e : emas_) {
      if (emas_ready) x[i++] = e.value();
      static_cast<void>(e.update(y));
    }
    ++valid_rows_;
    ++rows_;
    last_time_ = t;
    time = t;
    return lags_ready && emas_ready ? outcome::sample : outcome::lag_warming_up;
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // sin/cos(2 pi k f) for k = 1..n, by the angle-addition recurrence from k = 1: two trig
  // calls per row instead of 2n; the recurrence's rounding error grows about linearly in k
  // (about n ulp for n <= 12), far below the features' meaning.
  static void harmonics(int n, double fraction, std::vector<double>& out) {
    out.resize(static_cast<std::size_t>(2 * n));
    const double a = 2.0 * std::numbers::pi * fraction;
    const double s1 = std::sin(a), c1 = std::cos(a);
    double s = s1, c = c1;
    for (std::size_t k = 0; k < static_cast<std::size_t>(n); ++k) {
      out[2 * k] = s;
      out[2 * k + 1] = c;
      const double next_s = s * c1 + c * s1;
      c = c * c1 - s * s1;
      s = next_s;
    }
  }

  [[nodiscard]] bool needs_date() const noexcept {
    return cfg_.day_of_week || cfg_.yearly_harmonics > 0 || cfg_.daily_harmonics > 0;
  }

  static bool number(const csv_reader& r, std::size_t c, double& v, livefit::error& err) {
    if (parse_double(r.fields()[c], v)) return true;
    err = fail(errc::format_error, r.where(c) + ": '" + std::string(trim(r.fields()[c])) +
                                       "' is not a number");
    return false;
  }

  feature_config cfg_;
  std::size_t target_{npos};
  std::size_t time_col_{npos};
  std::vector<std::size_t> ymd_;
  std::vector<std::size_t> columns_;
  std::vector<std::string> names_;
  std::vector<double> history_;
  std::vector<ema<double>> emas_;
  std::size_t head_{0};
  std::size_t valid_rows_{0};
  std::uint64_t rows_{0};
  double last_time_{0.0};
  // The date of a year/month/day row as written, "1969-1-2".
  std::string ymd_text(const std::vector<std::string_view>& fields) const {
    return std::string(trim(fields[ymd_[0]])) + "-" + std::string(trim(fields[ymd_[1]])) + "-" +
           std::string(trim(fields[ymd_[2]]));
  }
  std::string ymd_names(const csv_reader& r) const {
    return r.columns()[ymd_[0]] + ", " + r.columns()[ymd_[1]] + ", " + r.columns()[ymd_[2]];
  }
  double first_time_{0.0};
  bool day_based_{true};  // false once a time cell is a plain number
  std::vector<double> year_terms_;
  std::vector<double> day_terms_;
  std::int64_t cached_day_{0};
  bool year_cached_{false};
  double cached_time_{0.0};
  bool day_cached_{false};
};

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_FEATURES_HPP
