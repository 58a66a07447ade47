// Gate combinators: all_of, any_of, not_ at compile time; any_gate and *_of_list at run time.
//
// Three-valued logic with a veto: a rollback from any member is the combination's answer,
// whatever the others say, because a rollback is a safety signal (a broken or significantly
// worse version) that no amount of good news elsewhere should outvote. Between promote and
// hold, all_of promotes when every member promotes, any_of when at least one does, and not_
// swaps the two (its rollback passes through unchanged). all_of_list and any_of_list are the
// same logic over a list built at run time (gate_parser.hpp builds them from text).
//
// Usage:
//   auto g = all_of(min_samples{}, any_of(significant{}, not_(sanity{})));
//   static_assert(gate<decltype(g), evidence>);
#ifndef LIVEFIT_DEPLOY_GATE_COMBINATORS_HPP
#define LIVEFIT_DEPLOY_GATE_COMBINATORS_HPP

#include <concepts>
#include <memory>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "livefit/core/assert.hpp"
#include "livefit/core/concepts.hpp"
#include "livefit/deploy/detail/gate_text.hpp"
#include "livefit/deploy/evidence.hpp"
#include "livefit/deploy/gates.hpp"

namespace livefit {

namespace detail {

/// all_of on actions only (the reasonless fast path, see decide()).
class all_of_action_fold {
 public:
  bool take(gate_action a) noexcept {
    if (a != gate_action::promote) out_ = a;  // a rollback ends the fold, so it stays
    return a == gate_action::rollback;
  }
  [[nodiscard]] gate_action result() const noexcept { return out_; }

 private:
  gate_action out_{gate_action::promote};
};

/// any_of on actions only.
class any_of_action_fold {
 public:
  bool take(gate_action a) noexcept {
    if (a == gate_action::rollback) vetoed_ = true;
    if (a == gate_action::promote) promoted_ = true;
    return vetoed_;
  }
  [[nodiscard]] gate_action result() const noexcept {
    return vetoed_ ? gate_action::rollback : promoted_ ? gate_action::promote : gate_action::hold;
  }

 private:
  bool promoted_{false};
  bool vetoed_{false};
};

/// The logic of all_of, one member's decision at a time (shared by the compile-time and the
/// run-time forms). take() returns true when the answer is known (a rollback).
class all_of_fold {
 public:
  static constexpr std::string_view name = "all_of";
  using action_fold = all_of_action_fold;

  bool take(const decision& d) noexcept {
    if (d.action == gate_action::rollback) {
      veto_ = d;
      vetoed_ = true;
      return true;
    }
    if (d.action == gate_action::hold && !held_) {
      first_hold_ = d;
      held_ = true;
    }
    join(joined_, d.reason.view());
    return false;
  }
  [[nodiscard]] decision result() const noexcept {
    if (vetoed_) return veto_;
    if (held_) return first_hold_;
    return decision{gate_action::promote, joined_};
  }

 private:
  decision veto_{};
  decision first_hold_{};
  reason_text joined_{};
  bool held_{false};
  bool vetoed_{false};
};

/// The logic of any_of, one member's decision at a time. Every member is asked until a
/// rollback: a later rollback must still be able to veto an earlier promote.
class any_of_fold {
 public:
  static constexpr std::string_view name = "any_of";
  using action_fold = any_of_action_fold;

  bool take(const decision& d) noexcept {
    if (d.action == gate_action::rollback) {
      veto_ = d;
      vetoed_ = true;
      return true;
    }
    if (d.action == gate_action::promote && !promoted_) {
      first_promote_ = d;
      promoted_ = true;
    } else if (d.action == gate_action::hold) {
      if (holds_.size() > prefix_) holds_.append("; ");
      holds_.append(d.reason.view());
    }
    return false;
  }
  [[nodiscard]] decision result() const noexcept {
    if (vetoed_) return veto_;
    if (promoted_) return first_promote_;
    return decision{gate_action::hold, holds_};
  }

 private:
  static constexpr std::string_view prefix_text = "none promotes: ";
  static constexpr std::size_t prefix_ = prefix_text.size();
  decision veto_{};
  decision first_promote_{};
  reason_text holds_{prefix_text};
  bool promoted_{false};
  bool vetoed_{false};
};

}  // namespace detail

/// Promotes when every member promotes; rolls back when any member rolls back (the first
/// one's reason); else holds with the reason of the first member that holds.
/// Members are evaluated in order and evaluation stops at the first rollback.
template <class... G>
class all_of {
  static_assert(sizeof...(G) >= 1, "all_of needs at least one gate");

 public:
  /// The combinator's name in gate expressions (gate_parser.hpp) and reasons.
  static constexpr std::string_view name = "all_of";

  /// Members default-constructed (each gate with its default options).
  constexpr all_of() noexcept
    requires(std::is_nothrow_default_constructible_v<G> && ...)
      : gates_() {}

  /// Takes the members, each with its own options; they are asked in this order.
  constexpr explicit all_of(G... gates) noexcept((std::is_nothrow_move_constructible_v<G> && ...))
      : gates_(std::move(gates)...) {}

  /// @post The promote reason joins every member's reason with "; ".
  // LIMITATION: reasons live in a fixed reason_text (383 characters) so that deciding never
  // allocates; a joined reason of more than about six members is cut at the capacity.
  template <class Evidence>
    requires(gate<G, Evidence> && ...)
  [[nodiscard]] decision evaluate(const Evidence& e) const noexcept {
    detail::all_of_fold f;
    std::apply([&](const G&... g) { static_cast<void>((f.take(g.evaluate(e)) || ...)); }, gates_);
    return f.result();
  }

  /// The same answer as evaluate(), without the reason.
  template <class Evidence>
    requires(gate<G, Evidence> && ...)
  [[nodiscard]] gate_action action(const Evidence& e) const noexcept {
    detail::all_of_fold::action_fold f;
    std::apply([&](const G&... g) { static_cast<void>((f.take(decide(g, e)) || ...)); }, gates_);
    return f.result();
  }

  /// The members, in order.
  [[nodiscard]] const std::tuple<G...>& gates() const noexcept { return gates_; }

 private:
  std::tuple<G...> gates_;
};

/// Promotes when at least one member promotes (the first one's reason), unless a member
/// rolls back (its reason wins); else holds, listing why each member held.
template <class... G>
class any_of {
  static_assert(sizeof...(G) >= 1, "any_of needs at least one gate");

 public:
  /// The combinator's name in gate expressions (gate_parser.hpp) and reasons.
  static constexpr std::string_view name = "any_of";

  /// Members default-constructed (each gate with its default options).
  constexpr any_of() noexcept
    requires(std::is_nothrow_default_constructible_v<G> && ...)
      : gates_() {}

  /// Takes the members, each with its own options; they are asked in this order.
  constexpr explicit any_of(G... gates) noexcept((std::is_nothrow_move_constructible_v<G> && ...))
      : gates_(std::move(gates)...) {}

  /// Asks every member in order until one rolls back (a later rollback must still veto an
  /// earlier promote).
  /// @post The hold reason is "none promotes: " followed by each member's hold reason,
  ///       joined with "; " and cut at the reason_text capacity (383 characters).
  template <class Evidence>
    requires(gate<G, Evidence> && ...)
  [[nodiscard]] decision evaluate(const Evidence& e) const noexcept {
    detail::any_of_fold f;
    std::apply([&](const G&... g) { static_cast<void>((f.take(g.evaluate(e)) || ...)); }, gates_);
    return f.result();
  }

  /// The same answer as evaluate(), without the reason.
  template <class Evidence>
    requires(gate<G, Evidence> && ...)
  [[nodiscard]] gate_action action(const Evidence& e) const noexcept {
    detail::any_of_fold::action_fold f;
    std::apply([&](const G&... g) { static_cast<void>((f.take(decide(g, e)) || ...)); }, gates_);
    return f.result();
  }

  /// The members, in order.
  [[nodiscard]] const std::tuple<G...>& gates() const noexcept { return gates_; }

 private:
  std::tuple<G...> gates_;
};

/// Swaps promote and hold of its member; a rollback passes through unchanged (a safety
/// signal is never inverted). E.g. not_(min_improvement{.relative = 0.5}) holds a challenger
/// whose gain is too good to be true.
template <class G>
class not_ {
 public:
  /// The combinator's name in gate expressions (gate_parser.hpp) and reasons.
  static constexpr std::string_view name = "not_";

  /// The member default-constructed (the gate with its default options).
  constexpr not_() noexcept
    requires std::is_nothrow_default_constructible_v<G>
      : gate_() {}

  /// Negates `g`, with the options it was built with.
  constexpr explicit not_(G g) noexcept(std::is_nothrow_move_constructible_v<G>)
      : gate_(std::move(g)) {}

  /// The member's decision with promote and hold swapped; the reason is "not(<member's
  /// reason>)". A rollback is returned as the member gave it.
  template <class Evidence>
    requires gate<G, Evidence>
  [[nodiscard]] decision evaluate(const Evidence& e) const noexcept {
    decision d = gate_.evaluate(e);
    if (d.action == gate_action::rollback) return d;
    decision out{d.action == gate_action::promote ? gate_action::hold : gate_action::promote,
                 reason_text("not(")};
    out.reason.append(d.reason.view()).append(")");
    return out;
  }

  /// The same answer as evaluate(), without the reason.
  template <class Evidence>
    requires gate<G, Evidence>
  [[nodiscard]] gate_action action(const Evidence& e) const noexcept {
    const gate_action a = decide(gate_, e);
    if (a == gate_action::rollback) return a;
    return a == gate_action::promote ? gate_action::hold : gate_action::promote;
  }

  /// The negated member.
  [[nodiscard]] const G& inner() const noexcept { return gate_; }

 private:
  G gate_;
};

/// A gate of any type behind one type, for run-time composition (configuration-driven
/// pipelines, user-defined gates next to parsed ones).
///
/// Holds the gate in an immutable shared block: copies share it, which is safe because gates
/// are stateless. `evaluate` is one indirect call through a function pointer, with no
/// allocation; construction allocates once.
class any_gate {
 public:
  /// Wraps `g`. @pre G is a gate over `evidence`.
  template <class G>
    requires(!std::same_as<std::remove_cvref_t<G>, any_gate> &&
             gate<std::remove_cvref_t<G>, evidence>)
  explicit any_gate(G&& g)
      : impl_(std::make_shared<const std::remove_cvref_t<G>>(std::forward<G>(g))),
        call_(&call<std::remove_cvref_t<G>>),
        act_(&act<std::remove_cvref_t<G>>) {}

  /// The wrapped gate's decision: one indirect call, no allocation.
  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    return call_(impl_.get(), e);
  }

  /// The same answer as evaluate(), without the reason.
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    return act_(impl_.get(), e);
  }

 private:
  template <class G>
  static decision call(const void* g, const evidence& e) noexcept {
    return static_cast<const G*>(g)->evaluate(e);
  }
  template <class G>
  static gate_action act(const void* g, const evidence& e) noexcept {
    return decide(*static_cast<const G*>(g), e);
  }

  std::shared_ptr<const void> impl_;
  decision (*call_)(const void*, const evidence&) noexcept;
  gate_action (*act_)(const void*, const evidence&) noexcept;
};

static_assert(gate<any_gate, evidence>);

namespace detail {

/// A combinator over a list of gates chosen at run time, with the logic of `Fold`.
template <class Fold>
class gate_list {
 public:
  static constexpr std::string_view name = Fold::name;

  /// @pre The list is not empty (an empty all_of would promote on nothing).
  explicit gate_list(std::vector<any_gate> gates) noexcept : gates_(std::move(gates)) {
    LIVEFIT_ASSERT(!gates_.empty());
  }

  [[nodiscard]] decision evaluate(const evidence& e) const noexcept {
    Fold f;
    for (const any_gate& g : gates_)
      if (f.take(g.evaluate(e))) break;
    return f.result();
  }

  /// The same answer as evaluate(), without the reason.
  [[nodiscard]] gate_action action(const evidence& e) const noexcept {
    typename Fold::action_fold f;
    for (const any_gate& g : gates_)
      if (f.take(g.action(e))) break;
    return f.result();
  }

  [[nodiscard]] const std::vector<any_gate>& gates() const noexcept { return gates_; }

 private:
  std::vector<any_gate> gates_;
};

}  // namespace detail

/// all_of over a list of gates chosen at run time (same logic as all_of).
using all_of_list = detail::gate_list<detail::all_of_fold>;
/// any_of over a list of gates chosen at run time (same logic as any_of).
using any_of_list = detail::gate_list<detail::any_of_fold>;

}  // namespace livefit

#endif  // LIVEFIT_DEPLOY_GATE_COMBINATORS_HPP
