// csv_reader: a fast, strict reader of comma-separated streams, plain or gzip-compressed.
//
// The replay program feeds millions of rows through the pipeline, so the reader avoids
// per-field iostreams: it inflates (zlib's gzread, which also passes plain files through) into
// one large buffer, splits lines with memchr and fields in place, and parses numbers with
// std::from_chars. Fields are string_views into the buffer, valid until the next call to next().
// Every error names the file, the line and, where one is concerned, the column.
#ifndef LIVEFIT_EXAMPLES_REPLAY_CSV_READER_HPP
#define LIVEFIT_EXAMPLES_REPLAY_CSV_READER_HPP

#include <sys/stat.h>
#include <zlib.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "livefit/core/result.hpp"

namespace livefit::replay {

/// Removes leading and trailing blanks (space, tab) and a trailing carriage return.
[[nodiscard]] inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// Parses a whole field as a finite double (an optional leading '+' is accepted; blanks around
/// the number are ignored). Returns false for empty text, trailing characters, "nan", "inf" or
/// an out-of-range value.
[[nodiscard]] inline bool parse_double(std::string_view s, double& out) noexcept {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  double v = 0.0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || p != end) return false;
  // from_chars accepts "nan" and "inf": a stream value of that kind is bad input here.
  if (!(v - v == 0.0)) return false;
  out = v;
  return true;
}

/// Parses a whole field as a signed 64-bit integer.
[[nodiscard]] inline bool parse_int(std::string_view s, std::int64_t& out) noexcept {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  std::int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || p != end) return false;
  out = v;
  return true;
}

/// Reads a CSV file with one header line, row by row.
///
/// Format accepted: fields separated by ',', lines ended by "\n" or "\r\n", the header naming
/// every column. A field may be wrapped in double quotes (a comma inside is then data, and a
/// doubled quote is one quote, as in RFC 4180). A UTF-8 byte order mark before the header is
/// skipped. A gzip stream that ends before its trailer is an error, never a short file.
/// LIMITATION: a quoted field cannot span lines; no file this program ships needs that.
class csv_reader {
 public:
  /// What next() found.
  enum class read_status : std::uint8_t { row, end, error };

  /// Opens `path` and reads its header. Errors: the file cannot be opened or read, it is empty,
  /// or the header has an empty or repeated column name.
  /// @param block_bytes size of the inflate buffer; rows longer than it grow it.
  static result<csv_reader> open(const std::string& path, std::size_t block_bytes = 1u << 20) {
    csv_reader r;
    r.path_ = path;
    r.file_.reset(gzopen(path.c_str(), "rb"));
    if (!r.file_) {
      return fail(errc::io_error, path + ": cannot open file (" +
                                      std::generic_category().message(errno) + ")");
    }
    gzbuffer(r.file_.get(), 1u << 18);
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && st.st_size > 0) r.size_ = static_cast<double>(st.st_size);
    r.buf_.resize(block_bytes < 64 ? 64 : block_bytes);
    r.fields_.reserve(32);
    switch (r.next_line()) {
      case read_status::error: return r.error_;
      case read_status::end:
        return fail(errc::format_error, path + ": empty file (no header line)");
      case read_status::row: break;
    }
    // A UTF-8 byte order mark (spreadsheet exports write one) is not part of the first name.
    if (r.line_.substr(0, 3) == "\xEF\xBB\xBF") r.line_.remove_prefix(3);
    if (!r.split(false)) return r.error_;
    for (std::size_t i = 0; i < r.fields_.size(); ++i) {
      std::string name(trim(r.fields_[i]));
      if (name.empty()) {
        return fail(errc::format_error, path + ":1: column " + std::to_string(i + 1) +
                                            " of the header has no name");
      }
      for (const auto& seen : r.columns_) {
        if (seen == name)
          return fail(errc::format_error, path + ":1: column '" + name + "' appears twice");
      }
      r.columns_.push_back(std::move(name));
    }
    return r;
  }

  /// Column names, in file order.
  [[nodiscard]] const std::vector<std::string>& columns() const noexcept { return columns_; }

  /// Index of the column called `name`, or an error listing the columns there are.
  [[nodiscard]] result<std::size_t> column_index(std::string_view name) const {
    for (std::size_t i = 0; i < columns_.size(); ++i)
      if (columns_[i] == name) return i;
    std::string have;
    for (const auto& c : columns_) have += (have.empty() ? "" : ", ") + c;
    return fail(errc::not_found, path_ + ":1: no column named '" + std::string(name) +
                                     "' (columns: " + have + ")");
  }

  /// Reads the next data row. Blank lines are skipped. On read_status::error, error() says
  /// why (a row with too few or too many fields, a read failure) and the reader stays there.
  [[nodiscard]] read_status next() {
    for (;;) {
      read_status st = next_line();
      if (st != read_status::row) return st;
      if (trim(line_).empty()) continue;
      return split(true) ? read_status::row : read_status::error;
    }
  }

  /// Fields of the current row (views into the buffer, valid until the next call to next()).
  [[nodiscard]] const std::vector<std::string_view>& fields() const noexcept { return fields_; }
  /// 1-based line number of the current row in the file (the header is line 1).
  [[nodiscard]] std::uint64_t line() const noexcept { return line_no_; }
  /// Share of the file read so far, in [0, 1] (compressed bytes for gzip files).
  [[nodiscard]] double progress() const noexcept {
    if (!(size_ > 0.0)) return 0.0;
    const double at = static_cast<double>(gzoffset(file_.get()));
    return at >= size_ ? 1.0 : at / size_;
  }

  /// The file's path as given to open().
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  /// Why the last call failed. @pre the last call returned read_status::error
  [[nodiscard]] const livefit::error& error() const noexcept { return error_; }

  /// "path:line: column 'name'": the prefix of every message about one field of the row.
  [[nodiscard]] std::string where(std::size_t column) const {
    return path_ + ":" + std::to_string(line_no_) + ": column '" + columns_[column] + "'";
  }

 private:
  struct gz_closer {
    void operator()(gzFile f) const noexcept { gzclose(f); }
  };

  csv_reader() = default;

  // Finds the next '\n'-terminated line in the buffer, refilling it from the file as needed.
  read_status next_line() {
    for (;;) {
      const std::size_t avail = end_ - pos_;
      if (avail > 0) {
        const void* nl = std::memchr(buf_.data() + pos_, '\n', avail);
        if (nl != nullptr) {
          const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) -
                                                    (buf_.data() + pos_));
          line_ = std::string_view(buf_.data() + pos_, len);
          pos_ += len + 1;
          ++line_no_;
          return read_status::row;
        }
      }
      if (eof_) {
        if (avail == 0) return read_status::end;
        // The last line has no newline: take what is left.
        line_ = std::string_view(buf_.data() + pos_, avail);
        pos_ = end_;
        ++line_no_;
        return read_status::row;
      }
      if (!refill()) return read_status::error;
    }
  }

  // Moves the unread tail to the front and reads more; grows the buffer for very long lines.
  bool refill() {
    const std::size_t avail = end_ - pos_;
    if (pos_ > 0 && avail > 0) std::memmove(buf_.data(), buf_.data() + pos_, avail);
    pos_ = 0;
    end_ = avail;
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    const std::size_t room = buf_.size() - end_;
    const unsigned ask = room > (1u << 30) ? (1u << 30) : static_cast<unsigned>(room);
    const int got = gzread(file_.get(), buf_.data() + end_, ask);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(file_.get(), &code);
      error_ = fail(errc::io_error, path_ + ":" + std::to_string(line_no_ + 1) +
                                        ": read error (" + (msg ? msg : "unknown") + ")");
      return false;
    }
    if (got == 0) {
      // gzread() returns 0 both at a clean end and when the compressed stream stops before
      // its end (zlib records Z_BUF_ERROR, "unexpected end of file"): only gzerror() tells
      // them apart, and a cut download must not pass for a shorter stream.
      int code = Z_OK;
      const char* msg = gzerror(file_.get(), &code);
      if (code != Z_OK) {
        error_ = fail(errc::format_error,
                      code == Z_BUF_ERROR
                          ? path_ + ": truncated gzip stream (unexpected end of file)"
                          : path_ + ": read error (" + (msg ? msg : "unknown") + ")");
        return false;
      }
      eof_ = true;
    }
    end_ += static_cast<std::size_t>(got);
    return true;
  }

  // Splits line_ into fields_; with `check`, the count must match the header.
  bool split(bool check) {
    fields_.clear();
    std::string_view rest = line_;
    if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
    for (;;) {
      std::size_t cut = 0;
      std::string_view field;
      if (!rest.empty() && rest.front() == '"') {
        // RFC 4180: inside quotes, "" stands for one quote. The field is unescaped in place
        // (the buffer is ours and the text only shrinks), so it stays a view.
        char* const base = buf_.data() + (rest.data() - buf_.data());
        std::size_t in = 1, out = 0;
        bool closed = false;
        while (in < rest.size()) {
          if (rest[in] == '"') {
            if (in + 1 < rest.size() && rest[in + 1] == '"') {
              base[1 + out++] = '"';
              in += 2;
              continue;
            }
            closed = true;
            break;
          }
          base[1 + out++] = rest[in++];
        }
        if (!closed) {
          error_ = fail(errc::format_error, path_ + ":" + std::to_string(line_no_) +
                                                ": field " + std::to_string(fields_.size() + 1) +
                                                " opens a quote that is not closed");
          return false;
        }
        field = std::string_view(base + 1, out);
        cut = rest.find(',', in);
      } else {
        cut = rest.find(',');
        field = rest.substr(0, cut);
      }
      fields_.push_back(field);
      if (cut == std::string_view::npos) break;
      rest.remove_prefix(cut + 1);
    }
    if (check && fields_.size() != columns_.size()) {
      error_ = fail(errc::format_error,
                    path_ + ":" + std::to_string(line_no_) + ": expected " +
                        std::to_string(columns_.size()) + " fields (as in the header), got " +
                        std::to_string(fields_.size()) +
                        (fields_.size() < columns_.size() ? " (too few)" : " (too many)"));
      return false;
    }
    return true;
  }

  std::string path_;
  std::unique_ptr<gzFile_s, gz_closer> file_;
  std::vector<char> buf_;
  std::size_t pos_{0};
  std::size_t end_{0};
  double size_{0.0};
  bool eof_{false};
  std::string_view line_;
  std::uint64_t line_no_{0};
  std::vector<std::string> columns_;
  std::vector<std::string_view> fields_;
  livefit::error error_{};
};

}  // namespace livefit::replay

#endif  // LIVEFIT_EXAMPLES_REPLAY_CSV_READER_HPP
