// Calendar arithmetic for the replay's time column and its calendar features.
//
// Dates are counted in days since 1970-01-01 in the proleptic Gregorian calendar, the count
// every date format below is reduced to, so time is one double: days plus the fraction of the
// day. No time zones: a stream's clock times are taken as they are written.
#ifndef LIVEFIT_EXAMPLES_REPLAY_CALENDAR_HPP
#define LIVEFIT_EXAMPLES_REPLAY_CALENDAR_HPP

#include <cstdint>
#include <string_view>

namespace livefit::replay {

/// True for Gregorian leap years.
[[nodiscard]] constexpr bool is_leap_year(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/// Days in month `m` (1-12) of year `y`.
[[nodiscard]] constexpr int days_in_month(std::int64_t y, int m) noexcept {
  constexpr int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/// Days from 1970-01-01 to the date y-m-d. @pre 1 <= m <= 12, 1 <= d <= days_in_month(y, m)
///
/// Counts in 400-year eras (146097 days each) from 0000-03-01, so that the leap day falls at
/// the end of the counting year: the day of that year is then a closed form of the month
/// (the 153-day five-month pattern of March-July and August-December).
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
  const std::int64_t yy = m <= 2 ? y - 1 : y;
  const std::int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
  const std::int64_t year_of_era = yy - era * 400;
  const std::int64_t month_from_march = m > 2 ? m - 3 : m + 9;
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  // 719468 = days from 0000-03-01 to 1970-01-01.
  return era * 146097 + day_of_era - 719468;
}

/// ISO weekday of a day count: 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
[[nodiscard]] constexpr int iso_weekday(std::int64_t days) noexcept {
  const std::int64_t r = (days + 3) % 7;
  return static_cast<int>(r < 0 ? r + 7 : r) + 1;
}

/// A calendar date with the day of the year.
struct civil_date {
  std::int64_t year{1970};
  int month{1};
  int day{1};
};

/// The date of a day count (inverse of days_from_civil).
[[nodiscard]] constexpr civil_date civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t day_of_era = z - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t mp = (5 * day_of_year + 2) / 153;
  const auto d = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {year_of_era + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

/// Day of the year, 1 for 1 January, of a day count.
[[nodiscard]] constexpr int day_of_year(std::int64_t days) noexcept {
  const civil_date c = civil_from_days(days);
  return static_cast<int>(days - days_from_civil(c.year, 1, 1)) + 1;
}

namespace detail {
// Reads exactly n ASCII digits at s[pos...]; false on anything else.
constexpr bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}
}  // namespace detail

/// Parses "YYYY-MM-DD", "YYYYMMDD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS" (a 'T' may
/// replace the space) into days since 1970-01-01 plus the fraction of the day. Returns false
/// on any other text or an impossible date or time.
[[nodiscard]] constexpr bool parse_date_time(std::string_view s, double& days_out) noexcept {
  int y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
  std::size_t rest = 0;
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-') {
    if (!detail::digits(s, 0, 4, y) || !detail::digits(s, 5, 2, m) || !detail::digits(s, 8, 2, d))
      return false;
    rest = 10;
  } else if (s.size() == 8) {
    if (!detail::digits(s, 0, 4, y) || !detail::digits(s, 4, 2, m) || !detail::digits(s, 6, 2, d))
      return false;
    rest = 8;
  } else {
    return false;
  }
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
  if (rest < s.size()) {
    if ((s[rest] != ' ' && s[rest] != 'T') || s.size() < rest + 6 || s[rest + 3] != ':')
      return false;
    if (!detail::digits(s, rest + 1, 2, hh) || !detail::digits(s, rest + 4, 2, mm)) return false;
    if (s.size() == rest + 9) {
      if (s[rest + 6] != ':' || !detail::digits(s, rest + 7, 2, ss)) return false;
    } else if (s.size() != rest + 6) {
      return false;
    }
    if (hh > 23 || mm > 59 || ss > 60) return false;
  }
  days_out = static_cast<double>(days_from_civil(y, m, d)) +
             static_cast<double>(hh * 3600 + mm * 60 + ss) / 86400.0;
  return true;
}

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_CALENDAR_HPP
