// model_catalog: many named registries in one process (one per instrument, say).
#ifndef LIVEFIT_DEPLOY_MODEL_CATALOG_HPP
#define LIVEFIT_DEPLOY_MODEL_CATALOG_HPP

#include <cstddef>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "livefit/core/result.hpp"
#include "livefit/deploy/registry.hpp"

namespace livefit {

/// Options of a model catalog.
struct model_catalog_options {
  /// Options given to every registry the catalog makes (see registry_options).
  registry_options registry{};
  /// Longest model name, in bytes (names are also directory names). Default 128.
  std::size_t max_name_length{128};
};

/// Named registries, added and removed at run time: a trading engine keeps one per
/// instrument, thousands of them.
///
/// Look-up by name (find) takes a shared lock on the name table; a serving thread does it
/// once per subscription and keeps the returned handle, whose read() is lock-free and
/// allocation-free. Removing a name while handles are out is safe: the registry lives until
/// the last handle goes, and snapshots live past even that.
///
/// Memory of an idle entry (one model with one version): the name-table node (about 80
/// bytes, plus the name when longer than 15 characters), the shared_ptr control block with
/// the registry handle (24 bytes), the registry's state, version and history (see
/// registry). Measured with a 4-dimensional double model and 9-character names: about 770
/// heap bytes per entry, so 10,000 instruments cost under 8 MB.
// LIMITATION: find() takes a reader lock on the name table (never on a model); a hot path
// that looks models up by name per request should keep the handles instead.
template <class Model, event_sink Sink = null_sink>
class model_catalog {
 public:
  using registry_type = registry<Model, Sink>;       ///< One model's registry.
  using handle = std::shared_ptr<registry_type>;    ///< Keeps a registry alive while held.

  /// Makes an empty catalog.
  [[nodiscard]] static result<model_catalog> make(const model_catalog_options& opt) {
    if (auto probe = registry_type::make(opt.registry); !probe) return probe.error();
    if (opt.max_name_length < 1)
      return fail(errc::invalid_argument, "model_catalog: max_name_length must be >= 1, got 0");
    return model_catalog(opt);
  }

  /// Moves the catalog (not while other threads use it).
  model_catalog(model_catalog&&) noexcept = default;
  /// Moves the catalog (not while other threads use it).
  model_catalog& operator=(model_catalog&&) noexcept = default;

  /// Adds a model under `name` ([A-Za-z0-9._-], not starting with '.').
  /// @return the new registry's handle.
  [[nodiscard]] result<handle> add(std::string_view name, Sink sink = Sink{}) {
    if (auto ok = check_name(name); !ok) return ok.error();
    auto reg = registry_type::make(opt_.registry, std::move(sink));
    if (!reg) return reg.error();
    auto h = std::make_shared<registry_type>(std::move(*reg));
    std::unique_lock lock(*mutex_);
    auto [it, inserted] = models_.try_emplace(std::string(name), h);
    if (!inserted)
      return fail(errc::invalid_argument,
                  "model_catalog: name '" + std::string(name) + "' is taken");
    return h;
  }

  /// Removes `name`; handles already out stay valid.
  [[nodiscard]] result<void> remove(std::string_view name) {
    std::unique_lock lock(*mutex_);
    auto it = models_.find(name);
    if (it == models_.end())
      return fail(errc::not_found, "model_catalog: no model '" + std::string(name) + "'");
    models_.erase(it);
    return {};
  }

  /// The registry of `name`, or an empty handle.
  [[nodiscard]] handle find(std::string_view name) const {
    std::shared_lock lock(*mutex_);
    auto it = models_.find(name);
    return it == models_.end() ? handle{} : it->second;
  }

  /// Number of models.
  [[nodiscard]] std::size_t size() const {
    std::shared_lock lock(*mutex_);
    return models_.size();
  }

  /// The names, in lexicographic order.
  [[nodiscard]] std::vector<std::string> names() const {
    std::shared_lock lock(*mutex_);
    std::vector<std::string> out;
    out.reserve(models_.size());
    for (const auto& kv : models_) out.push_back(kv.first);
    return out;
  }

  /// Saves every model into `dir/<name>/` (see registry::save).
  [[nodiscard]] result<void> save(const std::string& dir) const
    requires checkpointable<Model>
  {
    if (auto ok = detail::ensure_directory(dir); !ok) return ok;
    std::vector<std::pair<std::string, handle>> all;
    {
      std::shared_lock lock(*mutex_);
      all.assign(models_.begin(), models_.end());
    }
    for (const auto& [name, reg] : all)
      if (auto ok = reg->save(dir + "/" + name); !ok) return ok;
    return {};
  }

 private:
  explicit model_catalog(const model_catalog_options& opt)
      : opt_(opt), mutex_(std::make_unique<std::shared_mutex>()) {}

  [[nodiscard]] result<void> check_name(std::string_view name) const {
    if (name.empty() || name.size() > opt_.max_name_length || name.front() == '.')
      return fail(errc::invalid_argument,
                  "model_catalog: name must have 1 to " + std::to_string(opt_.max_name_length) +
                      " characters and not start with '.', got '" + std::string(name) + "'");
    for (char c : name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      if (!ok)
        return fail(errc::invalid_argument, "model_catalog: name '" + std::string(name) +
                                                "' has a character outside [A-Za-z0-9._-]");
    }
    return {};
  }

  model_catalog_options opt_;
  std::unique_ptr<std::shared_mutex> mutex_;
  std::map<std::string, handle, std::less<>> models_;
};

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_MODEL_CATALOG_HPP
