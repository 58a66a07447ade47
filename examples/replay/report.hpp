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

/// Writes an SVG line chart of the served model's and train-once's rolling error, with
/// promotions (green), rollbacks (red) and drifts (orange ticks) marked. Points are thinned
/// to at most `max_points` (every k-th point kept) so the file stays small on long streams.
[[nodiscard]] inline std::string render_chart(const std::vector<chart_point>& pts,
                                              const std::vector<chart_marker>& marks,
                                              const std::string& title,
                                              const std::string& y_label, bool time_is_date,
                                              std::size_t max_points = 2000) {
  const double W = 960, H = 420, left = 70, right = 20, top = 40, bottom = 50;
  const double pw = W - left - right, ph = H - top - bottom;
  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"420\" "
       "viewBox=\"0 0 960 420\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"960\" height=\"420\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(left) + "\" y=\"24\" font-size=\"15\">" + title + "</text>\n";
  if (pts.empty()) {
    s += "<text x=\"480\" y=\"210\" text-anchor=\"middle\">no scored samples</text>\n</svg>\n";
    return s;
  }
  const double t0 = pts.front().time, t1 = pts.back().time > t0 ? pts.back().time : t0 + 1;
  double ymax = 0.0;
  for (const auto& p : pts) ymax = std::max({ymax, p.served, p.baseline});
  if (!(ymax > 0.0)) ymax = 1.0;
  // A round upper limit: 1, 2 or 5 times a power of ten.
  const double mag = std::pow(10.0, std::floor(std::log10(ymax)));
  double top_v = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
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
  for (int i = 0; i <= 6; ++i) {
    const double t = t0 + (t1 - t0) * i / 6.0;
    std::string label = format_time(std::floor(t), time_is_date);
    if (!time_is_date) label = num(t, 6);
    const char* anchor = i == 0 ? "start" : i == 6 ? "end" : "middle";
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
           "\" stroke-opacity=\"0.45\" stroke-dasharray=\"3 3\"/>\n";
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

  // Legend.
  const double lx = left + pw - 300, ly = top + 8;
  s += "<rect x=\"" + fixed(lx, 1) + "\" y=\"" + fixed(ly, 1) +
       "\" width=\"300\" height=\"86\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n";
  auto legend = [&](double dy, const char* colour, const char* dash, const char* text) {
    s += "<line x1=\"" + fixed(lx + 10, 1) + "\" x2=\"" + fixed(lx + 40, 1) + "\" y1=\"" +
         fixed(ly + dy, 1) + "\" y2=\"" + fixed(ly + dy, 1) + "\" stroke=\"" + colour +
         "\" stroke-width=\"2\"" + dash + "/>\n";
    s += "<text x=\"" + fixed(lx + 48, 1) + "\" y=\"" + fixed(ly + dy + 4, 1) + "\">" + text +
         "</text>\n";
  };
  legend(14, "#1f5fbf", "", "continuous deployment (served)");
  legend(30, "#888888", "", "train once");
  legend(46, "#2a9d3a", " stroke-dasharray=\"3 3\"", "promotion");
  legend(62, "#d62728", " stroke-dasharray=\"3 3\"", "rollback (trial withdrawn)");
  legend(78, "#e08a00", "", "drift (tick on the time axis)");
  s += "</svg>\n";
  return s;
}

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_REPORT_HPP
