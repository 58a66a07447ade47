// The replay's outputs: error accumulators, the rolling-error SVG chart and number formatting
// that is the same on every platform (std::to_chars), so output files compare byte for byte.
#ifndef LIVEFIT_EXAMPLES_REPLAY_REPORT_HPP
#define LIVEFIT_EXAMPLES_REPLAY_REPORT_HPP

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "calendar.hpp"

namespace livefit::replay {

/// Formats a double with `digits` significant digits (general format), locale-free.
[[nodiscard]] inline std::string num(double v, int digits = 6) {
  std::array<char, 64> buf{};
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, digits);
  if (ec != std::errc{}) return "?";
  return {buf.data(), static_cast<std::size_t>(end - buf.data())};
}

/// Formats a double with a fixed number of decimals, locale-free.
[[nodiscard]] inline std::string fixed(double v, int decimals) {
  std::array<char, 64> buf{};
  auto [end, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, decimals);
  if (ec != std::errc{}) return "?";
  return {buf.data(), static_cast<std::size_t>(end - buf.data())};
}

/// A stream time as text: "YYYY-MM-DD" (or with "HH:MM" when it has a time of day) for
/// date streams, the number otherwise.
[[nodiscard]] inline std::string format_time(double t, bool is_date) {
  if (!is_date) return num(t, 10);
  const auto day = static_cast<std::int64_t>(std::floor(t));
  const civil_date c = civil_from_days(day);
  char buf[40];
  const auto minutes = static_cast<int>(std::lround((t - static_cast<double>(day)) * 1440.0));
  if (minutes == 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d", static_cast<long long>(c.year), c.month,
                  c.day);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d", static_cast<long long>(c.year),
                  c.month, c.day, minutes / 60, minutes % 60);
  }
  return buf;
}

/// Mean absolute and root mean squared error of a prediction stream.
struct error_totals {
  std::uint64_t n{0};
  double abs_sum{0.0};
  double sq_sum{0.0};

  void add(double y, double y_hat) noexcept {
    const double e = y - y_hat;
    ++n;
    abs_sum += std::fabs(e);
    sq_sum += e * e;
  }
  [[nodiscard]] double mae() const noexcept {
    return n ? abs_sum / static_cast<double>(n) : std::nan("");
  }
  [[nodiscard]] double rmse() const noexcept {
    return n ? std::sqrt(sq_sum / static_cast<double>(n)) : std::nan("");
  }
};

/// One point of the chart: time and two rolling errors.
struct chart_point {
  double time{0.0};
  double served{0.0};
  double baseline{0.0};
};

/// A vertical marker on the chart.
struct chart_marker {
  double time{0.0};
  enum class kind : std::uint8_t { promotion, rollback, drift } what{kind::promotion};
};

/// Whole months between the dates of day counts t0 <= t1 (calendar months, days ignored).
[[nodiscard]] inline std::int64_t months_between(double t0, double t1) {
  const civil_date a = civil_from_days(static_cast<std::int64_t>(std::floor(t0)));
  const civil_date b = civil_from_days(static_cast<std::int64_t>(std::floor(t1)));
  return (b.year - a.year) * 12 + (b.month - a.month);
}

/// Time-axis ticks in [t0, t1]: for date streams, starts of years (every 1, 2, 5, ... years)
/// or, on spans under three years, starts of months (every 1, 2, 3 or 6); for number
/// streams, round numbers. At most about 10 ticks.
[[nodiscard]] inline std::vector<double> time_ticks(double t0, double t1, bool time_is_date) {
  std::vector<double> out;
  if (!(t1 > t0)) return out;
  if (!time_is_date) {
    const double raw = (t1 - t0) / 8.0;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (m * mag >= raw) {
        step = m * mag;
        break;
      }
    for (double t = std::ceil(t0 / step) * step; t <= t1; t += step) out.push_back(t);
    return out;
  }
  const civil_date a = civil_from_days(static_cast<std::int64_t>(std::floor(t0)));
  const civil_date b = civil_from_days(static_cast<std::int64_t>(std::floor(t1)));
  const std::int64_t months = months_between(t0, t1);
  if (months >= 36) {
    std::int64_t step = 1;
    for (std::int64_t m : {1, 2, 5, 10, 20, 50, 100})
      if ((b.year - a.year) / m <= 10) {
        step = m;
        break;
      }
    std::int64_t y = a.year + 1;
    if (y % step != 0) y += step - y % step;
    for (; y <= b.year; y += step) out.push_back(static_cast<double>(days_from_civil(y, 1, 1)));
    return out;
  }
  int step = 1;
  for (int m : {1, 2, 3, 6, 12})
    if (months / m <= 10) {
      step = m;
      break;
    }
  std::int64_t y = a.year;
  int m = a.month;
  for (;;) {
    if (++m > 12) {
      m = 1;
      ++y;
    }
    if (y > b.year || (y == b.year && m > b.month)) break;
    const auto d = static_cast<double>(days_from_civil(y, m, 1));
    if ((m - 1) % step == 0 && d <= t1) out.push_back(d);
  }
  return out;
}

/// Writes an SVG line chart of the served model's and train-once's rolling error, with
/// promotions (green), rollbacks (red) and drifts (orange ticks) marked. Points are thinned
/// to at most `max_points` (every k-th point kept) so the file stays small on long streams.
[[nodiscard]] inline std::string render_chart(const std::vector<chart_point>& pts,
                                              const std::vector<chart_marker>& marks,
                                              const std::string& title,
                                              const std::string& y_label, bool time_is_date,
                                              std::size_t max_points = 2000) {
  // The legend sits below the plot area (bottom margin), so it never covers data.
  const double W = 960, H = 470, left = 70, right = 20, top = 40, bottom = 100;
  const double pw = W - left - right, ph = H - top - bottom;
  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"470\" "
       "viewBox=\"0 0 960 470\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"960\" height=\"470\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(left) + "\" y=\"24\" font-size=\"15\">" + title + "</text>\n";
  if (pts.empty()) {
    s += "<text x=\"480\" y=\"235\" text-anchor=\"middle\">no scored samples</text>\n</svg>\n";
    return s;
  }
  const double t0 = pts.front().time, t1 = pts.back().time > t0 ? pts.back().time : t0 + 1;
  double ymax = 0.0;
  for (const auto& p : pts) ymax = std::max({ymax, p.served, p.baseline});
  if (!(ymax > 0.0)) ymax = 1.0;
  // A round upper limit: 1, 2 or 5 times a power of ten.
  const double mag = std::pow(10.0, std::floor(std::log10(ymax)));
  double top_v = mag;
  for (double m : {1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    if (m * mag >= ymax) {
      top_v = m * mag;
      break;
    }
  }
  auto X = [&](double t) { return left + (t - t0) / (t1 - t0) * pw; };
  auto Y = [&](double v) { return top + ph - v / top_v * ph; };

  // Axes and grid.
  for (int i = 0; i <= 5; ++i) {
    const double v = top_v * i / 5.0;
    s += "<line x1=\"" + fixed(left, 1) + "\" x2=\"" + fixed(left + pw, 1) + "\" y1=\"" +
         fixed(Y(v), 1) + "\" y2=\"" + fixed(Y(v), 1) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fixed(left - 6, 1) + "\" y=\"" + fixed(Y(v) + 4, 1) +
         "\" text-anchor=\"end\">" + num(v, 4) + "</text>\n";
  }
  // Year ticks are labelled with the year, month ticks with year and month.
  const bool by_year = time_is_date && months_between(t0, t1) >= 36;  // as time_ticks()
  for (const double t : time_ticks(t0, t1, time_is_date)) {
    std::string label = time_is_date ? format_time(t, true) : num(t, 6);
    if (time_is_date) label.resize(by_year ? 4 : 7);
    s += "<line x1=\"" + fixed(X(t), 1) + "\" x2=\"" + fixed(X(t), 1) + "\" y1=\"" +
         fixed(top + ph, 1) + "\" y2=\"" + fixed(top + ph + 4, 1) + "\" stroke=\"#444\"/>\n";
    // A label near either edge is anchored there so that it stays inside the picture.
    const char* anchor = X(t) > left + pw - 30 ? "end" : X(t) < left + 30 ? "start" : "middle";
    s += "<text x=\"" + fixed(X(t), 1) + "\" y=\"" + fixed(top + ph + 18, 1) +
         "\" text-anchor=\"" + anchor + "\">" + label + "</text>\n";
  }
  s += "<text x=\"16\" y=\"" + fixed(top + ph / 2, 1) + "\" transform=\"rotate(-90 16 " +
       fixed(top + ph / 2, 1) + ")\" text-anchor=\"middle\">" + y_label + "</text>\n";

  // Markers under the lines.
  for (const auto& m : marks) {
    const double x = X(m.time);
    if (m.what == chart_marker::kind::drift) {
      s += "<line x1=\"" + fixed(x, 1) + "\" x2=\"" + fixed(x, 1) + "\" y1=\"" +
           fixed(top + ph, 1) + "\" y2=\"" + fixed(top + ph - 10, 1) +
           "\" stroke=\"#e08a00\" stroke-width=\"2\"/>\n";
    } else {
      const char* colour = m.what == chart_marker::kind::promotion ? "#2a9d3a" : "#d62728";
      s += "<line x1=\"" + fixed(x, 1) + "\" x2=\"" + fixed(x, 1) + "\" y1=\"" + fixed(top, 1) +
           "\" y2=\"" + fixed(top + ph, 1) + "\" stroke=\"" + colour +
           "\" stroke-width=\"1.5\" stroke-opacity=\"0.9\" stroke-dasharray=\"5 3\"/>\n";
    }
  }

  const std::size_t step = pts.size() > max_points ? (pts.size() + max_points - 1) / max_points
                                                   : 1;
  auto polyline = [&](bool served, const char* colour) {
    s += "<polyline fill=\"none\" stroke=\"";
    s += colour;
    s += "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < pts.size(); i += step) {
      const double v = served ? pts[i].served : pts[i].baseline;
      s += fixed(X(pts[i].time), 1) + "," + fixed(Y(std::min(v, top_v)), 1) + " ";
    }
    s += "\"/>\n";
  };
  polyline(false, "#888888");
  polyline(true, "#1f5fbf");

  // Legend: two rows under the time axis, outside the plot area.
  auto legend = [&](double x, double y, const char* colour, const char* dash, const char* text) {
    s += "<line x1=\"" + fixed(x, 1) + "\" x2=\"" + fixed(x + 30, 1) + "\" y1=\"" +
         fixed(y, 1) + "\" y2=\"" + fixed(y, 1) + "\" stroke=\"" + colour +
         "\" stroke-width=\"2\"" + dash + "/>\n";
    s += "<text x=\"" + fixed(x + 38, 1) + "\" y=\"" + fixed(y + 4, 1) + "\">" + text +
         "</text>\n";
  };
  const double l1 = top + ph + 48, l2 = l1 + 20;
  legend(left, l1, "#1f5fbf", "", "continuous deployment (served)");
  legend(left + 300, l1, "#888888", "", "train once");
  legend(left + 520, l1, "#e08a00", "", "drift (tick on the time axis)");
  legend(left, l2, "#2a9d3a", " stroke-dasharray=\"5 3\"", "promotion");
  legend(left + 300, l2, "#d62728", " stroke-dasharray=\"5 3\"", "rollback (trial withdrawn)");
  s += "</svg>\n";
  return s;
}

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_REPORT_HPP
