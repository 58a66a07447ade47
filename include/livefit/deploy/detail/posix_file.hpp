// Whole-file reads and crash-safe whole-file writes through POSIX calls (off the hot path).
#ifndef LIVEFIT_DEPLOY_DETAIL_POSIX_FILE_HPP
#define LIVEFIT_DEPLOY_DETAIL_POSIX_FILE_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "livefit/core/result.hpp"

// LIMITATION: POSIX only (open/fsync/rename); a Windows port needs ReplaceFileW and
// FlushFileBuffers with the same ordering.

namespace livefit::detail {

/// "<what> '<path>': <strerror(err)>", the message of every I/O error.
[[nodiscard]] inline error io_failure(std::string_view what, const std::string& path, int err) {
  std::string m(what);
  m += " '";
  m += path;
  m += "': ";
  m += std::strerror(err);
  return fail(errc::io_error, std::move(m));
}

/// Closes a descriptor on scope exit, so no error path leaks it.
class fd_guard {
 public:
  explicit fd_guard(int fd) noexcept : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Closes now and reports close()'s own error (NFS reports deferred write errors there).
  [[nodiscard]] int close_now() noexcept {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

/// The directory part of `path` ("." when it has none).
[[nodiscard]] inline std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// Reads a whole file. Refuses files larger than `max_bytes` before reading them, so a
/// damaged or hostile file cannot make the loader allocate without bound.
[[nodiscard]] inline result<std::vector<std::uint8_t>> read_whole_file(
    const std::string& path, std::uint64_t max_bytes) {
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_failure("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_failure("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return fail(errc::io_error, "not a regular file '" + path + "'");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_bytes)
    return fail(errc::format_error, "file '" + path + "' has " + std::to_string(size) +
                                        " bytes, more than the limit of " +
                                        std::to_string(max_bytes));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_failure("cannot read", path, errno);
    if (n == 0) break;  // the file shrank under us: report what was read, the caller checks it
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

/// Writes all of `bytes` to `fd`, resuming after partial writes and EINTR.
[[nodiscard]] inline int write_all(int fd, std::span<const std::uint8_t> bytes) noexcept {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

/// fsync()s a directory so a rename inside it survives a power loss (POSIX leaves the
/// durability of directory entries to an explicit sync of the directory).
[[nodiscard]] inline result<void> sync_directory(const std::string& dir) {
  fd_guard fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_failure("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return io_failure("cannot sync directory", dir, errno);
  return {};
}

/// Replaces `path` with `bytes` so that, whatever instant the process or the machine dies at,
/// `path` holds either its previous content or the new one, never a mix:
/// write a temporary file in the same directory (rename is atomic only within a file
/// system), fsync it (the data must be on disk before the name points at it), rename it over
/// `path`, then fsync the directory (the new name must be on disk too). A temporary file left
/// by a crash is named "<path>.tmp.<pid>.<n>" and is never read by the loaders.
[[nodiscard]] inline result<void> write_file_atomically(const std::string& path,
                                                        std::span<const std::uint8_t> bytes) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                          std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
  fd_guard fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) return io_failure("cannot create", tmp, errno);
  int err = write_all(fd.get(), bytes);
  if (err == 0 && ::fsync(fd.get()) != 0) err = errno;
  if (err == 0 && fd.close_now() != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return io_failure("cannot write", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return io_failure("cannot rename onto", path, err);
  }
  return sync_directory(parent_dir(path));
}

/// Creates a directory if it does not exist yet.
[[nodiscard]] inline result<void> ensure_directory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return fail(errc::io_error, "not a directory '" + dir + "'");
  }
  return io_failure("cannot create directory", dir, errno);
}

}  // namespace livefit::detail

#endif  // LIVEFIT_DEPLOY_DETAIL_POSIX_FILE_HPP
